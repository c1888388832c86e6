package pebble

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// readyTimeout bounds a peer's start; the machines running the tests are small and busy.
const readyTimeout = 30 * time.Second

// errPortTaken means a port picked as free was taken before the peer bound it.
var errPortTaken = errors.New("a port was taken before the peer could bind it")

// process is a peer's running command, its output going to a log file.
type process struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// startProcess runs binary with args in dir, logging to log.
func startProcess(binary, dir, log string, env []string, args ...string) (*process, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	p := &process{name: filepath.Base(binary), log: log, cmd: exec.Command(binary, args...), done: make(chan struct{})}
	p.cmd.Dir, p.cmd.Env = dir, env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting %s: %w", p.name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// waitReady polls ready until it succeeds, the process exits or readyTimeout passes. An error
// wrapping errPortTaken ends the wait at once, since the process will never be ready.
func (p *process) waitReady(ready func() error) error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited (%v); see %s", p.name, p.err, p.log)
		default:
		}
		if last = ready(); last == nil || errors.Is(last, errPortTaken) {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s was not ready within %s (%v); see %s", p.name, readyTimeout, last, p.log)
}

// stop kills the process and waits for it.
func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}
