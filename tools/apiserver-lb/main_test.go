package main

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// echoServer answers each line with its own name, so a test sees which backend served it.
func echoServer(t *testing.T, name string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					c.Write([]byte(name + "\n"))
				}
			}(c)
		}
	}()
	return ln
}

func ask(t *testing.T, lb *balancer) (string, net.Conn) {
	t.Helper()
	front, back := net.Pipe()
	go lb.serve(back)
	front.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := front.Write([]byte("who\n")); err != nil {
		t.Fatal(err)
	}
	answer, err := bufio.NewReader(front).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return strings.TrimSpace(answer), front
}

func TestSpreadsOverBackends(t *testing.T) {
	a, b := echoServer(t, "a"), echoServer(t, "b")
	defer a.Close()
	defer b.Close()
	lb := newBalancer([]string{a.Addr().String(), b.Addr().String()}, time.Second)
	seen := map[string]bool{}
	for i := 0; i < 4; i++ {
		name, conn := ask(t, lb)
		conn.Close()
		seen[name] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Fatalf("connections went only to %v", seen)
	}
}

func TestFailsOverAndClosesConnectionsToADeadBackend(t *testing.T) {
	a, b := echoServer(t, "a"), echoServer(t, "b")
	defer b.Close()
	lb := newBalancer([]string{a.Addr().String(), b.Addr().String()}, 200*time.Millisecond)
	var throughA net.Conn
	for throughA == nil {
		name, conn := ask(t, lb)
		if name == "a" {
			throughA = conn
		} else {
			conn.Close()
		}
	}
	a.Close() // backend a goes away: new dials fail
	lb.check(2)
	lb.check(2)
	if lb.backends[0].healthy.Load() {
		t.Fatal("backend a still marked healthy after two failed checks")
	}
	throughA.SetDeadline(time.Now().Add(2 * time.Second))
	_, err := bufio.NewReader(throughA).ReadString('\n')
	if ne, ok := err.(net.Error); err == nil || (ok && ne.Timeout()) {
		t.Fatalf("the connection through the dead backend was not closed at once: %v", err)
	}
	for i := 0; i < 3; i++ {
		name, conn := ask(t, lb)
		conn.Close()
		if name != "b" {
			t.Fatalf("connection %d went to %q, want the live backend b", i, name)
		}
	}
}

func TestNoHealthyBackendDropsTheConnection(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	lb := newBalancer([]string{addr}, 200*time.Millisecond)
	front, back := net.Pipe()
	go lb.serve(back)
	front.SetDeadline(time.Now().Add(2 * time.Second))
	_, err := bufio.NewReader(front).ReadString('\n')
	if ne, ok := err.(net.Error); err == nil || (ok && ne.Timeout()) {
		t.Fatalf("expected the connection to be dropped at once, got %v", err)
	}
}
