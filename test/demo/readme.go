package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// The transcript in README.md is this demo's output, cut to the steps a newcomer reads first.
// checkREADME holds it to the output of the run that just happened: every line of the transcript
// must be a line the demo printed, once what changes from run to run (generated CSR names,
// serials, fingerprints, timestamps, ages, column padding) is set aside. Lines are compared as a
// set, since the order of events recorded at the same moment is not fixed; the governance
// record, which README abridges, is compared by its heading only.
func checkREADME(readmePath string, output []byte) error {
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		return err
	}
	transcript, err := transcriptOf(string(readme))
	if err != nil {
		return fmt.Errorf("%s: %w", readmePath, err)
	}
	printed := map[string]bool{}
	for _, line := range strings.Split(string(output), "\n") {
		printed[normalize(line)] = true
	}
	var missing []string
	for _, line := range transcript {
		if n := normalize(line); n != "" && !printed[n] {
			missing = append(missing, "  "+line)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s's transcript has lines this run of the demo did not print; update it from the output above:\n%s",
			readmePath, strings.Join(missing, "\n"))
	}
	return nil
}

// transcriptOf is the lines of README's first code block that starts with a kubectl command, up
// to the governance record's heading.
func transcriptOf(readme string) ([]string, error) {
	start := strings.Index(readme, "```\n$ kubectl ")
	if start < 0 {
		return nil, errors.New("no transcript (a code block starting with $ kubectl)")
	}
	block := readme[start+len("```\n"):]
	block = block[:strings.Index(block+"```", "```")]
	var lines []string
	for _, line := range strings.Split(block, "\n") {
		lines = append(lines, line)
		if strings.HasPrefix(line, "==> The governance record") {
			break
		}
	}
	return lines, nil
}

var varying = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b(dana|pat)-[a-z0-9]{5}\b`), "$1-NAME"},
	{regexp.MustCompile(`\b[0-9a-f]{32,64}\b`), "HEX"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`), "TIME"},
	{regexp.MustCompile(`(^|\s)\d+[smhd](\s|$)`), "${1}AGE${2}"},
}

// normalize sets aside what differs between two runs of the demo.
func normalize(line string) string {
	line = strings.Join(strings.Fields(line), " ")
	for _, v := range varying {
		line = v.re.ReplaceAllString(line, v.with)
	}
	return line
}

// teeStdout copies everything written to os.Stdout, by this process and by the commands it runs,
// into a buffer as well; stop restores os.Stdout and returns what was written.
func teeStdout() (stop func() []byte, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	real := os.Stdout
	os.Stdout = w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.MultiWriter(real, &buf), r)
		close(done)
	}()
	return func() []byte {
		os.Stdout = real
		_ = w.Close()
		<-done
		return buf.Bytes()
	}, nil
}
