// The tcp_echo_rps and chat_fanout workloads of the Go side; they add
// themselves to the workload table.
package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"
)

const (
	echoConns      = "100"
	echoSeconds    = "3"
	fanoutMembers  = 1000
	fanoutMessages = 1000
	// A member's channel, as a chat hub gives each client a buffered send
	// channel; the room blocks when one is full (nothing is dropped).
	fanoutBuffer = 256
)

func init() {
	workloads["tcp_echo_rps"] = tcpEchoRPS
	workloads["chat_fanout"] = chatFanout
}

// tcpEchoRPS: requests per second. A net.Listener and a goroutine per
// connection that reads and writes back what it read; the load is
// bench/tcp_client.c ($BENCH_TCP_CLIENT), whose checked figure this is.
func tcpEchoRPS() (float64, error) {
	client := os.Getenv("BENCH_TCP_CLIENT")
	if client == "" {
		return 0, fmt.Errorf("BENCH_TCP_CLIENT is not set")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go echoConn(c)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	cmd := exec.Command(client, strconv.Itoa(port), echoConns, echoSeconds)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("client: %v", err)
	}
	return strconv.ParseFloat(string(bytes.TrimSpace(out)), 64)
}

func echoConn(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

// chatFanout: deliveries per second. A room goroutine owns its members'
// channels and sends every broadcast to each; each member goroutine checks
// it sees 0, 1, 2, ... in order. Timed from the first broadcast to the
// last member's report.
type room struct {
	join      chan chan int
	broadcast chan int
	stop      chan struct{}
}

func (r *room) run() {
	var members []chan int
	for {
		select {
		case m := <-r.join:
			members = append(members, m)
		case msg := <-r.broadcast:
			for _, m := range members {
				m <- msg
			}
		case <-r.stop:
			return
		}
	}
}

func chatFanout() (float64, error) {
	r := &room{
		join:      make(chan chan int),
		broadcast: make(chan int, fanoutMessages),
		stop:      make(chan struct{}),
	}
	go r.run()
	done := make(chan bool, fanoutMembers)
	for i := 0; i < fanoutMembers; i++ {
		in := make(chan int, fanoutBuffer)
		go func() {
			for want := 0; want < fanoutMessages; want++ {
				if <-in != want {
					done <- false
					return
				}
			}
			done <- true
		}()
		r.join <- in
	}
	start := time.Now()
	for seq := 0; seq < fanoutMessages; seq++ {
		r.broadcast <- seq
	}
	for i := 0; i < fanoutMembers; i++ {
		if !<-done {
			return 0, fmt.Errorf("a member got a message out of order")
		}
	}
	elapsed := time.Since(start)
	close(r.stop)
	return fanoutMembers * fanoutMessages / elapsed.Seconds(), nil
}
