// kdw-apiserver-lb runs on every worker and forwards TCP connections from a local port to the healthy apiservers.
// kubelet and kube-proxy talk to 127.0.0.1, so losing any one controller does not take a node down. When a backend
// stops answering, the connections through it are closed at once, so clients reconnect to a live one instead of
// waiting for TCP timeouts.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type backendList []string

func (b *backendList) String() string     { return strings.Join(*b, ",") }
func (b *backendList) Set(v string) error { *b = append(*b, v); return nil }

type backend struct {
	addr     string
	healthy  atomic.Bool
	failures int
	mu       sync.Mutex
	conns    map[net.Conn]net.Conn // server side -> client side
}

func (b *backend) track(server, client net.Conn) {
	b.mu.Lock()
	b.conns[server] = client
	b.mu.Unlock()
}

func (b *backend) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
}

func (b *backend) closeAll() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for server, client := range b.conns {
		server.Close()
		client.Close()
	}
	return len(b.conns)
}

type balancer struct {
	backends    []*backend
	next        atomic.Uint64
	dialTimeout time.Duration
}

func newBalancer(addrs []string, dialTimeout time.Duration) *balancer {
	lb := &balancer{dialTimeout: dialTimeout}
	for _, a := range addrs {
		b := &backend{addr: a, conns: map[net.Conn]net.Conn{}}
		b.healthy.Store(true) // optimistic until the first check says otherwise
		lb.backends = append(lb.backends, b)
	}
	return lb
}

// check probes every backend once; a backend is down after `threshold` failed probes in a row.
func (lb *balancer) check(threshold int) {
	var wg sync.WaitGroup
	for _, b := range lb.backends {
		wg.Add(1)
		go func(b *backend) {
			defer wg.Done()
			conn, err := net.DialTimeout("tcp", b.addr, lb.dialTimeout)
			if err == nil {
				conn.Close()
				b.failures = 0
				if !b.healthy.Swap(true) {
					log.Printf("backend %s is up", b.addr)
				}
				return
			}
			b.failures++
			if b.failures >= threshold && b.healthy.Swap(false) {
				log.Printf("backend %s is down (%v); closed %d connections through it", b.addr, err, b.closeAll())
			}
		}(b)
	}
	wg.Wait()
}

// dial connects to the next healthy backend in turn, trying the others if it fails.
func (lb *balancer) dial() (net.Conn, *backend, error) {
	start := lb.next.Add(1)
	n := uint64(len(lb.backends))
	var lastErr error = fmt.Errorf("no healthy backend")
	for i := uint64(0); i < n; i++ {
		b := lb.backends[(start+i)%n]
		if !b.healthy.Load() {
			continue
		}
		conn, err := net.DialTimeout("tcp", b.addr, lb.dialTimeout)
		if err == nil {
			return conn, b, nil
		}
		lastErr = err
	}
	return nil, nil, lastErr
}

func (lb *balancer) serve(client net.Conn) {
	defer client.Close()
	server, b, err := lb.dial()
	if err != nil {
		log.Printf("dropping a connection from %s: %v", client.RemoteAddr(), err)
		return
	}
	defer server.Close()
	b.track(server, client)
	defer b.untrack(server)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tcp, ok := dst.(*net.TCPConn); ok {
			tcp.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	// One direction ended; give the other a moment to finish, then close both.
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

func main() {
	var backends backendList
	listen := flag.String("listen", "127.0.0.1:6443", "address to accept connections on")
	flag.Var(&backends, "backend", "apiserver address host:port (repeat for each controller)")
	interval := flag.Duration("check-interval", time.Second, "time between health checks")
	dialTimeout := flag.Duration("dial-timeout", time.Second, "timeout of each connection attempt")
	threshold := flag.Int("failures", 2, "failed checks in a row that mark a backend down")
	flag.Parse()
	if len(backends) == 0 {
		fmt.Fprintln(os.Stderr, "kdw-apiserver-lb: at least one --backend is required")
		os.Exit(2)
	}
	lb := newBalancer(backends, *dialTimeout)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen on %s: %v", *listen, err)
	}
	log.Printf("forwarding %s to %s", *listen, backends.String())
	go func() {
		for {
			lb.check(*threshold)
			time.Sleep(*interval)
		}
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			log.Printf("accept: %v", err)
			continue
		}
		go lb.serve(conn)
	}
}
