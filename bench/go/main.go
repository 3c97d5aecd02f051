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
	idleSettle    = 2500 * time.Millisecond
	callTotal     = 1000000
	restartTotal  = 100000
	idleServers   = 100000
	supChildren   = 1000
	dynsupKids    = 100000
	regProcs      = 100000
	lookupTotal   = 1000000
	lookupWorkers = 2
)

// The schedulers every side runs with: Grove's config and BEAM's +S 2:2.
const schedulers = 2

var workloads = map[string]func() (float64, error){
	"spawn_exit":           spawnExit,
	"ring_hop":             ringHop,
	"pingpong":             pingpong,
	"skynet":               skynet,
	"idle_process_bytes":   idleProcessBytes,
	"call":                 callBench,
	"restart":              restartBench,
	"idle_genserver_bytes": idleServerBytes,
	"sup_start_1k":         func() (float64, error) { return sup1k(false) },
	"sup_shutdown_1k":      func() (float64, error) { return sup1k(true) },
	"dynsup_start_100k":    func() (float64, error) { return dynsup(dynStart) },
	"dynsup_shutdown_100k": func() (float64, error) { return dynsup(dynShutdown) },
	"dynsup_restart_all_100k": func() (float64, error) {
		return dynsup(dynRestartAll)
	},
	"registry_register": func() (float64, error) { return registry(regRegister) },
	"registry_lookup":   func() (float64, error) { return registry(regLookup) },
	"wake_100k":         func() (float64, error) { return registry(regWake) },
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
	fmt.Printf("%.3f\n", figure)
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

// ---- servers and supervisors ---------------------------------------------
//
// Go has no gen_server or supervisor; the peer is what a Go programmer
// writes instead: a server is a goroutine serving a request channel, each
// request carrying its own reply channel, and a supervisor is a goroutine
// that starts workers, hears of their exits and starts them again. Go
// cannot kill a goroutine, so a worker is "killed" by closing its kill
// channel, which it selects on beside its requests.

type request struct {
	n     int
	reply chan int
}

type server struct {
	reqs chan request
	kill chan struct{}
}

func newServer() *server {
	return &server{reqs: make(chan request), kill: make(chan struct{})}
}

// serve answers n with n + 1 until killed or its request channel is
// closed; it returns the number of requests served.
func (s *server) serve() int {
	count := 0
	for {
		select {
		case req, ok := <-s.reqs:
			if !ok {
				return count
			}
			if req.reply == nil {
				// A count request.
				continue
			}
			count++
			req.reply <- req.n + 1
		case <-s.kill:
			return count
		}
	}
}

func (s *server) call(n int) int {
	reply := make(chan int, 1)
	s.reqs <- request{n: n, reply: reply}
	return <-reply
}

// callBench: ns per call round trip to one server goroutine.
func callBench() (float64, error) {
	s := newServer()
	served := make(chan int)
	go func() { served <- s.serve() }()
	start := time.Now()
	for i := 0; i < callTotal; i++ {
		if r := s.call(i); r != i+1 {
			return 0, fmt.Errorf("call %d answered %d", i, r)
		}
	}
	elapsed := time.Since(start)
	close(s.reqs)
	if n := <-served; n != callTotal {
		return 0, fmt.Errorf("server served %d calls, want %d", n, callTotal)
	}
	return perOp(elapsed, callTotal), nil
}

// names is a registry of named servers, as the BEAM's local names.
type names struct {
	mu sync.RWMutex
	m  map[string]*server
}

func (r *names) set(name string, s *server) {
	r.mu.Lock()
	r.m[name] = s
	r.mu.Unlock()
}

func (r *names) get(name string) *server {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[name]
}

// restartBench: us from killing a supervised, named worker to its
// replacement, registered under the same name, answering a call.
func restartBench() (float64, error) {
	reg := &names{m: map[string]*server{}}
	ready := make(chan struct{})
	stop := make(chan struct{})
	restarts := make(chan int)
	// The supervisor: starts the worker, registers it, and starts a new
	// one each time it exits, until stopped.
	go func() {
		n := 0
		for {
			s := newServer()
			exited := make(chan struct{})
			go func() { s.serve(); close(exited) }()
			reg.set("worker", s)
			ready <- struct{}{}
			select {
			case <-exited:
				n++
			case <-stop:
				close(s.kill)
				<-exited
				restarts <- n
				return
			}
		}
	}()
	<-ready
	var total time.Duration
	for i := 0; i < restartTotal; i++ {
		old := reg.get("worker")
		start := time.Now()
		close(old.kill)
		<-ready
		s := reg.get("worker")
		if r := s.call(i); r != i+1 {
			return 0, fmt.Errorf("call %d answered %d", i, r)
		}
		total += time.Since(start)
		if s == old {
			return 0, fmt.Errorf("restart %d: the name names the old worker", i)
		}
	}
	close(stop)
	if n := <-restarts; n != restartTotal {
		return 0, fmt.Errorf("%d restarts, want %d", n, restartTotal)
	}
	return float64(total.Nanoseconds()) / restartTotal / 1e3, nil
}

// idleServerBytes: growth of the resident set per idle server goroutine.
func idleServerBytes() (float64, error) {
	before, err := rssBytes()
	if err != nil {
		return 0, err
	}
	servers := make([]*server, idleServers)
	for i := range servers {
		servers[i] = newServer()
		go servers[i].serve()
	}
	time.Sleep(idleSettle)
	after, err := rssBytes()
	if err != nil {
		return 0, err
	}
	if n := runtime.NumGoroutine(); n < idleServers {
		return 0, fmt.Errorf("%d goroutines alive, want %d", n, idleServers)
	}
	for _, s := range servers {
		close(s.kill)
	}
	return float64(after-before) / idleServers, nil
}

// group is a supervisor's set of workers: started one by one, each
// having said it is up before the next starts, and stopped together.
type group struct {
	servers []*server
	wg      sync.WaitGroup
	alive   int64
}

func (g *group) start() {
	s := newServer()
	up := make(chan struct{})
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		atomic.AddInt64(&g.alive, 1)
		close(up)
		s.serve()
		atomic.AddInt64(&g.alive, -1)
	}()
	<-up
	g.servers = append(g.servers, s)
}

func (g *group) stop() {
	for _, s := range g.servers {
		close(s.kill)
	}
	g.wg.Wait()
}

// sup1k: ms to start 1,000 server goroutines under a group, or to stop
// them all and wait for their exits.
func sup1k(shutdown bool) (float64, error) {
	g := &group{}
	start := time.Now()
	for i := 0; i < supChildren; i++ {
		g.start()
	}
	started := time.Since(start)
	if n := atomic.LoadInt64(&g.alive); n != supChildren {
		return 0, fmt.Errorf("%d workers alive, want %d", n, supChildren)
	}
	start = time.Now()
	g.stop()
	stopped := time.Since(start)
	if n := atomic.LoadInt64(&g.alive); n != 0 {
		return 0, fmt.Errorf("%d workers outlived the stop", n)
	}
	if shutdown {
		return float64(stopped.Nanoseconds()) / 1e6, nil
	}
	return float64(started.Nanoseconds()) / 1e6, nil
}

type dynFigure int

const (
	dynStart dynFigure = iota
	dynShutdown
	dynRestartAll
)

// dynsup: a supervisor goroutine owning 100,000 workers, started one by
// one through a request to it; it restarts any that exits until told to
// stop, then stops them all. Figures: ns per start, ms to stop, ms from
// killing every worker to all of them running again.
func dynsup(figure dynFigure) (float64, error) {
	type startReq struct{ reply chan *server }
	starts := make(chan startReq)
	exits := make(chan *server, 1024)
	countReq := make(chan chan int)
	stop := make(chan struct{})
	stopped := make(chan struct{})
	restartedCh := make(chan struct{}, dynsupKids)
	var alive int64
	// The supervisor's state: the workers it runs.
	go func() {
		workers := map[*server]struct{}{}
		var wg sync.WaitGroup
		spawn := func() *server {
			s := newServer()
			workers[s] = struct{}{}
			up := make(chan struct{})
			wg.Add(1)
			go func() {
				defer wg.Done()
				atomic.AddInt64(&alive, 1)
				close(up)
				s.serve()
				atomic.AddInt64(&alive, -1)
				select {
				case exits <- s:
				case <-stopped:
				}
			}()
			<-up
			return s
		}
		for {
			select {
			case req := <-starts:
				req.reply <- spawn()
			case s := <-exits:
				delete(workers, s)
				spawn()
				restartedCh <- struct{}{}
			case reply := <-countReq:
				reply <- len(workers)
			case <-stop:
				close(stopped)
				for s := range workers {
					close(s.kill)
				}
				wg.Wait()
				stop <- struct{}{}
				return
			}
		}
	}()
	count := func() int {
		reply := make(chan int)
		countReq <- reply
		return <-reply
	}
	servers := make([]*server, dynsupKids)
	start := time.Now()
	for i := range servers {
		reply := make(chan *server)
		starts <- startReq{reply}
		servers[i] = <-reply
	}
	startTime := time.Since(start)
	if n := count(); n != dynsupKids || atomic.LoadInt64(&alive) != dynsupKids {
		return 0, fmt.Errorf("%d workers, want %d", n, dynsupKids)
	}
	result := perOp(startTime, dynsupKids)
	if figure == dynRestartAll {
		start = time.Now()
		for _, s := range servers {
			close(s.kill)
		}
		for i := 0; i < dynsupKids; i++ {
			<-restartedCh
		}
		for atomic.LoadInt64(&alive) != dynsupKids {
			time.Sleep(10 * time.Millisecond)
		}
		result = float64(time.Since(start).Nanoseconds()) / 1e6
		if n := count(); n != dynsupKids {
			return 0, fmt.Errorf("%d workers after restarts, want %d", n,
				dynsupKids)
		}
	}
	start = time.Now()
	stop <- struct{}{}
	<-stop
	if figure == dynShutdown {
		result = float64(time.Since(start).Nanoseconds()) / 1e6
	}
	if n := atomic.LoadInt64(&alive); n != 0 {
		return 0, fmt.Errorf("%d workers outlived the stop", n)
	}
	return result, nil
}

// registry: a map under a read-write lock, split in two partitions as the
// other sides' registries, keys are ints. register: ns per key, 100,000
// waiting goroutines released at once, each registering its own key and
// saying so; lookup: ns per lookup, 1,000,000 by two goroutines at once;
// wake_100k: the same run as register without the registration.
type partition struct {
	mu sync.RWMutex
	m  map[int]int
}

type keyRegistry [2]partition

func (r *keyRegistry) register(key, value int) bool {
	p := &r[key&1]
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, taken := p.m[key]; taken {
		return false
	}
	p.m[key] = value
	return true
}

func (r *keyRegistry) lookup(key int) (int, bool) {
	p := &r[key&1]
	p.mu.RLock()
	v, ok := p.m[key]
	p.mu.RUnlock()
	return v, ok
}

const (
	regRegister = iota
	regLookup
	regWake
)

func registry(figure int) (float64, error) {
	reg := &keyRegistry{}
	for i := range reg {
		reg[i].m = map[int]int{}
	}
	goCh := make(chan struct{})
	stop := make(chan struct{})
	var waiting, done sync.WaitGroup
	var failed int64
	waiting.Add(regProcs)
	done.Add(regProcs)
	for i := 0; i < regProcs; i++ {
		go func(key int) {
			waiting.Done()
			<-goCh
			if figure != regWake && !reg.register(key, key) {
				atomic.AddInt64(&failed, 1)
			}
			done.Done()
			<-stop
		}(i)
	}
	waiting.Wait()
	start := time.Now()
	close(goCh)
	done.Wait()
	elapsed := time.Since(start)
	defer close(stop)
	if failed != 0 {
		return 0, fmt.Errorf("%d registrations refused", failed)
	}
	if figure != regLookup {
		return perOp(elapsed, regProcs), nil
	}
	var bad int64
	var lookers sync.WaitGroup
	lookers.Add(lookupWorkers)
	start = time.Now()
	for w := 0; w < lookupWorkers; w++ {
		go func(first int) {
			defer lookers.Done()
			var wrong int64
			for i := 0; i < lookupTotal/lookupWorkers; i++ {
				key := (first + i*7919) % regProcs
				if v, ok := reg.lookup(key); !ok || v != key {
					wrong++
				}
			}
			atomic.AddInt64(&bad, wrong)
		}(w * 50000)
	}
	lookers.Wait()
	elapsed = time.Since(start)
	if bad != 0 {
		return 0, fmt.Errorf("%d lookups wrong", bad)
	}
	return perOp(elapsed, lookupTotal), nil
}
