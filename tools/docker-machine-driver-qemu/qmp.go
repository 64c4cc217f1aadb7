package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmpSessionTimeout bounds a whole QMP session. qemu's monitor serves one client at a time (`docker-machine ls` asks
// every machine's state at once), so sessions are short: connect, one command, close.
const qmpSessionTimeout = 5 * time.Second

// qmpReply is one line qemu sends: a command's return or error, an asynchronous event, or the greeting.
type qmpReply struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string          `json:"event"`
	QMP   json.RawMessage `json:"QMP"`
}

type qmpSession struct {
	conn   net.Conn
	reader *bufio.Reader
}

// dialQMP connects, reads the greeting and leaves capabilities negotiation mode, the only state in which qemu takes
// commands.
func dialQMP(socket string) (*qmpSession, error) {
	conn, err := net.DialTimeout("unix", socket, qmpSessionTimeout)
	if err != nil {
		return nil, err
	}
	if err := conn.SetDeadline(time.Now().Add(qmpSessionTimeout)); err != nil {
		conn.Close()
		return nil, err
	}
	s := &qmpSession{conn: conn, reader: bufio.NewReader(conn)}
	greeting, err := s.readReply()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("reading the QMP greeting: %w", err)
	}
	if greeting.QMP == nil {
		conn.Close()
		return nil, fmt.Errorf("%s is not a QMP socket (no greeting)", socket)
	}
	if _, err := s.execute("qmp_capabilities"); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

// readReply reads the next line that is not an event: qemu interleaves events (SHUTDOWN, POWERDOWN, ...) with replies.
func (s *qmpSession) readReply() (*qmpReply, error) {
	for {
		line, err := s.reader.ReadBytes('\n')
		if err != nil {
			return nil, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var reply qmpReply
		if err := json.Unmarshal(line, &reply); err != nil {
			return nil, fmt.Errorf("QMP sent something that is not JSON: %q", line)
		}
		if reply.Event != "" {
			continue
		}
		return &reply, nil
	}
}

func (s *qmpSession) execute(command string) (json.RawMessage, error) {
	request, _ := json.Marshal(map[string]string{"execute": command})
	if _, err := s.conn.Write(append(request, '\n')); err != nil {
		return nil, fmt.Errorf("QMP %s: %w", command, err)
	}
	reply, err := s.readReply()
	if err != nil {
		return nil, fmt.Errorf("QMP %s: %w", command, err)
	}
	if reply.Error != nil {
		return nil, fmt.Errorf("QMP %s: %s: %s", command, reply.Error.Class, reply.Error.Desc)
	}
	if reply.Return == nil {
		return nil, fmt.Errorf("QMP %s: a reply with neither return nor error", command)
	}
	return reply.Return, nil
}

func (s *qmpSession) close() { s.conn.Close() }

// qmpExecute runs one command in a session of its own.
func qmpExecute(socket, command string) (json.RawMessage, error) {
	s, err := dialQMP(socket)
	if err != nil {
		return nil, err
	}
	defer s.close()
	return s.execute(command)
}

// queryStatus is the VM's RunState ("running", "paused", "shutdown", ...).
func queryStatus(socket string) (string, error) {
	result, err := qmpExecute(socket, "query-status")
	if err != nil {
		return "", err
	}
	var status struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(result, &status); err != nil || status.Status == "" {
		return "", fmt.Errorf("QMP query-status: no status in %s", result)
	}
	return status.Status, nil
}
