package main

import (
	"bufio"
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// fakeQMP serves one connection per entry of replies the way qemu does: a greeting, then for each command read the
// lines replies[command] (events included), in order. It records the commands it got.
func fakeQMP(t *testing.T, greeting string, replies map[string][]string) (string, *[]string) {
	t.Helper()
	socket := filepath.Join(t.TempDir(), "monitor")
	listener, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	var commands []string
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			conn.Write([]byte(greeting + "\n"))
			scanner := bufio.NewScanner(conn)
			for scanner.Scan() {
				var request struct{ Execute string }
				json.Unmarshal(scanner.Bytes(), &request)
				commands = append(commands, request.Execute)
				for _, line := range replies[request.Execute] {
					conn.Write([]byte(line + "\r\n"))
				}
			}
			conn.Close()
		}
	}()
	return socket, &commands
}

const qmpGreeting = `{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": ["oob"]}}`

func TestQMPSkipsEventsAndReadsTheReply(t *testing.T) {
	socket, commands := fakeQMP(t, qmpGreeting, map[string][]string{
		"qmp_capabilities": {`{"return": {}}`},
		"query-status": {
			`{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "RTC_CHANGE", "data": {"offset": 0}}`,
			`{"return": {"status": "running", "singlestep": false, "running": true}}`,
		},
	})
	status, err := queryStatus(socket)
	if err != nil || status != "running" {
		t.Fatalf("query-status: %q, %v", status, err)
	}
	if strings.Join(*commands, " ") != "qmp_capabilities query-status" {
		t.Errorf("commands sent: %v", *commands)
	}
}

func TestQMPErrorsNameTheCommand(t *testing.T) {
	socket, _ := fakeQMP(t, qmpGreeting, map[string][]string{
		"qmp_capabilities": {`{"return": {}}`},
		"system_powerdown": {`{"error": {"class": "GenericError", "desc": "no ACPI"}}`},
	})
	if _, err := qmpExecute(socket, "system_powerdown"); err == nil || err.Error() != "QMP system_powerdown: GenericError: no ACPI" {
		t.Errorf("error reply: %v", err)
	}
	if _, err := queryStatus(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing socket is no error")
	}
	notQMP, _ := fakeQMP(t, `{"hello": 1}`, nil)
	if _, err := qmpExecute(notQMP, "quit"); err == nil || !strings.Contains(err.Error(), "is not a QMP socket") {
		t.Errorf("a socket that is not QMP: %v", err)
	}
	garbage, _ := fakeQMP(t, `QEMU monitor`, nil)
	if _, err := qmpExecute(garbage, "quit"); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("a socket that sends text: %v", err)
	}
}
