package policy

import "testing"

// newTestEvaluator returns an Evaluator as the controllers build one.
func newTestEvaluator(t testing.TB) *Evaluator {
	t.Helper()
	e, err := NewEvaluator()
	if err != nil {
		t.Fatal(err)
	}
	return e
}
