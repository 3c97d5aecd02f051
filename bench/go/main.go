// The Go side of the Grove benchmark suite: the same workloads as
// bench/grove_bench.c, written the way a Go programmer would, with
// goroutines for processes and channels for mailboxes.
//
// Run as: GOMAXPROCS=2 gobench NAME
// Prints one number (the figure) on stdout; a wrong result prints a
// message on stderr and exits with status 1.
package main

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	spawnTotal    = 1000000
	spawnBatch    = 10000
	ringSize      = 1000
	ringHops      = 1000000
	pingpongTrips = 1000000
	skynetSize    = 1000000
	skynetDiv     = 10
	skynetSum     = 499999500000
	idleProcs     = 100000
	idleSettle    = 1500 * time.Millisecond
)

// The schedulers every side runs with: Grove's config and BEAM's +S 2:2.
const schedulers = 2

var workloads = map[string]func() (float64, error){
	"spawn_exit":         spawnExit,
	"ring_hop":           ringHop,
	"pingpong":           pingpong,
	"skynet":             skynet,
	"idle_process_bytes": idleProcessBytes,
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gobench NAME")
		os.Exit(2)
	}
	run, ok := workloads[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "gobench: unknown workload %q\n", os.Args[1])
		os.Exit(2)
	}
	runtime.GOMAXPROCS(schedulers)
	figure, err := run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gobench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Printf("%.1f\n", figure)
}

func perOp(d time.Duration, n int) float64 {
	return float64(d.Nanoseconds()) / float64(n)
}

// spawnExit: ns per goroutine, started in batches and joined with a
// WaitGroup so the number alive at once stays bounded. Each goroutine
// also counts itself, so the check sees that every one of them ran.
func spawnExit() (float64, error) {
	var ran int64
	start := time.Now()
	for left := spawnTotal; left > 0; left -= spawnBatch {
		n := spawnBatch
		if left < n {
			n = left
		}
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				atomic.AddInt64(&ran, 1)
				wg.Done()
			}()
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	if ran != spawnTotal {
		return 0, fmt.Errorf("%d of %d goroutines ran", ran, spawnTotal)
	}
	return perOp(elapsed, spawnTotal), nil
}

// ringHop: ns per hop. The token carries the hops still to make; the
// node that gets 0 reports its index, which must be ringHops % ringSize.
func ringHop() (float64, error) {
	inbox := make([]chan int, ringSize)
	for i := range inbox {
		inbox[i] = make(chan int)
	}
	finished := make(chan int)
	for i := 0; i < ringSize; i++ {
		go func(index int, in, next chan int) {
			for hops := range in {
				if hops == 0 {
					finished <- index
					continue
				}
				next <- hops - 1
			}
		}(i, inbox[i], inbox[(i+1)%ringSize])
	}
	start := time.Now()
	inbox[0] <- ringHops
	last := <-finished
	elapsed := time.Since(start)
	for _, in := range inbox {
		close(in)
	}
	if want := ringHops % ringSize; last != want {
		return 0, fmt.Errorf("token finished at %d, want %d", last, want)
	}
	return perOp(elapsed, ringHops), nil
}

// pingpong: ns per round trip between two goroutines.
func pingpong() (float64, error) {
	ping := make(chan struct{})
	pong := make(chan struct{})
	count := make(chan int)
	go func() {
		n := 0
		for range ping {
			n++
			pong <- struct{}{}
		}
		count <- n
	}()
	start := time.Now()
	for i := 0; i < pingpongTrips; i++ {
		ping <- struct{}{}
		<-pong
	}
	elapsed := time.Since(start)
	close(ping)
	if n := <-count; n != pingpongTrips {
		return 0, fmt.Errorf("%d round trips, want %d", n, pingpongTrips)
	}
	return perOp(elapsed, pingpongTrips), nil
}

// skynet: ms for the whole tree of 1,000,000 leaves.
func skynet() (float64, error) {
	result := make(chan int64)
	start := time.Now()
	go skynetNode(result, 0, skynetSize, skynetDiv)
	sum := <-result
	elapsed := time.Since(start)
	if sum != skynetSum {
		return 0, fmt.Errorf("sum %d, want %d", sum, int64(skynetSum))
	}
	return float64(elapsed.Nanoseconds()) / 1e6, nil
}

func skynetNode(parent chan<- int64, num, size, div int64) {
	if size == 1 {
		parent <- num
		return
	}
	sub := size / div
	results := make(chan int64, div)
	for i := int64(0); i < div; i++ {
		go skynetNode(results, num+i*sub, sub, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-results
	}
	parent <- sum
}

// idleProcessBytes: growth of the resident set per goroutine blocked on
// a receive, read from /proc/self/statm as the other two sides do.
func idleProcessBytes() (float64, error) {
	before, err := rssBytes()
	if err != nil {
		return 0, err
	}
	stop := make(chan struct{})
	var ready sync.WaitGroup
	ready.Add(idleProcs)
	for i := 0; i < idleProcs; i++ {
		go func() {
			ready.Done()
			<-stop
		}()
	}
	ready.Wait()
	time.Sleep(idleSettle)
	after, err := rssBytes()
	if err != nil {
		return 0, err
	}
	if n := runtime.NumGoroutine(); n < idleProcs {
		return 0, fmt.Errorf("%d goroutines alive, want %d", n, idleProcs)
	}
	close(stop)
	return float64(after-before) / idleProcs, nil
}

func rssBytes() (int64, error) {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	fields := bytes.Fields(statm)
	if len(fields) < 2 {
		return 0, fmt.Errorf("unexpected /proc/self/statm: %q", statm)
	}
	pages, err := strconv.ParseInt(string(fields[1]), 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}
