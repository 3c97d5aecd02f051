module grovebench/peer

go 1.19
