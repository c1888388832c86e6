package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// operator is the operator binary running as its own process, as it would in a pod.
type operator struct {
	cmd         *exec.Cmd
	metricsAddr string
	log         *os.File
}

// sample is what the operator process has used so far.
type sample struct {
	requests float64 // API requests its clients made (rest_client_requests_total)
	cpu      float64 // user+system CPU seconds
	rss      float64 // current resident MiB
	peakRSS  float64 // peak resident MiB
}

// startOperator starts the operator binary at path with the bench's flags and then extra, its
// log named after the workload in dir.
func startOperator(ctx context.Context, f *fixture, path, dir, workload string, extra []string) (*operator, error) {
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, f.operatorKubeconfig, 0o600); err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	log, err := os.Create(filepath.Join(dir, "operator-"+workload+".log"))
	if err != nil {
		return nil, err
	}
	args := append([]string{"--kubeconfig", kubeconfig, "--metrics-bind-address", addr, "--metrics-secure=false",
		"--health-probe-bind-address", "0", "--cluster-resource-namespace", clusterResourceNamespace, "--zap-log-level", "error", "--acme-http01-bind-address", "127.0.0.1:0"},
		extra...)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (run `make build`): %w", path, err)
	}
	op := &operator{cmd: cmd, metricsAddr: addr, log: log}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := op.scrape(); err == nil {
			return op, nil
		} else if time.Now().After(deadline) {
			op.stop()
			return nil, fmt.Errorf("operator metrics never came up (see %s): %w", log.Name(), err)
		}
	}
}

// stop stops the operator if it still runs.
func (o *operator) stop() {
	if o.cmd.ProcessState != nil {
		return
	}
	_ = o.cmd.Process.Signal(syscall.SIGTERM)
	_ = o.cmd.Wait()
	_ = o.log.Close()
}

// settle waits until the operator has made no API request for a second, so that the writes
// that follow a certificate (events, records) count with the workload that caused them.
func (o *operator) settle() error {
	last, quiet := -1.0, 0
	for deadline := time.Now().Add(30 * time.Second); quiet < 4 && time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		s, err := o.sample()
		if err != nil {
			return err
		}
		if s.requests == last {
			quiet++
		} else {
			last, quiet = s.requests, 0
		}
	}
	return nil
}

func (o *operator) scrape() (string, error) {
	resp, err := http.Get("http://" + o.metricsAddr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func (o *operator) sample() (sample, error) {
	body, err := o.scrape()
	if err != nil {
		return sample{}, err
	}
	var s sample
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "rest_client_requests_total{") {
			fields := strings.Fields(line)
			v, _ := strconv.ParseFloat(fields[len(fields)-1], 64)
			s.requests += v
		}
	}
	pid := o.cmd.Process.Pid
	if s.cpu, err = cpuSeconds(pid); err != nil {
		return sample{}, err
	}
	if s.rss, s.peakRSS, err = memory(pid); err != nil {
		return sample{}, err
	}
	return s, nil
}

// cpuSeconds reads utime+stime from /proc/<pid>/stat; Linux reports them in clock ticks of
// 1/100 s.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	rest := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, err1 := strconv.ParseFloat(rest[11], 64)
	stime, err2 := strconv.ParseFloat(rest[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return (utime + stime) / 100, nil
}

// memory reads the current and peak resident set from /proc/<pid>/status, in MiB.
func memory(pid int) (rss, peak float64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak, sc.Err()
}
