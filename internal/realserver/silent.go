package realserver

import (
	"net"
	"testing"
)

// Silent starts a server on a loopback port that accepts connections and
// never speaks, the stand-in for a server that hangs: only a store's
// timeout ends an Open against it. It returns host:port; the listener and
// the connections it accepted close when the test ends.
func Silent(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	return ln.Addr().String()
}
