package command

import (
	"bytes"
	"io"
	"sync"

	"kube-dumb-way/tools/providers/internal/provsrv"
)

// capture collects a command's stdout and stderr, and sends the lines of the streams that logging allows to
// the engine as status messages while the command runs.
type capture struct {
	stdout, stderr bytes.Buffer
	log            provsrv.Logger
	lg             logging

	mu      sync.Mutex
	pending [2][]byte // partial last line of each stream
}

func newCapture(log provsrv.Logger, lg logging) *capture {
	if log == nil {
		log = provsrv.Discard
	}
	return &capture{log: log, lg: lg}
}

type stream struct {
	c     *capture
	index int
}

func (s stream) Write(p []byte) (int, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	buf, show := &c.stdout, c.lg.stdout
	if s.index == 1 {
		buf, show = &c.stderr, c.lg.stderr
	}
	buf.Write(p)
	if !show {
		return len(p), nil
	}
	data := append(c.pending[s.index], p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		c.log.Status(string(bytes.TrimRight(data[:i], "\r")))
		data = data[i+1:]
	}
	c.pending[s.index] = append([]byte(nil), data...)
	return len(p), nil
}

func (c *capture) Stdout() io.Writer { return stream{c, 0} }
func (c *capture) Stderr() io.Writer { return stream{c, 1} }

// flush sends partial last lines.
func (c *capture) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.pending {
		if len(p) > 0 {
			c.log.Status(string(p))
			c.pending[i] = nil
		}
	}
}
