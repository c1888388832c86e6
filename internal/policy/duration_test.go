package policy

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/signerpolicy/signer-policy-operator/api/v1alpha1"
)

func TestDuration(t *testing.T) {
	d := func(v time.Duration) *metav1.Duration { return &metav1.Duration{Duration: v} }
	tests := []struct {
		name      string
		bounds    *v1alpha1.DurationBounds
		requested time.Duration
		want      []string
	}{
		{name: "no bounds, none requested: 90 days", requested: 0},
		{name: "no bounds, 10m is the floor", requested: 10 * time.Minute},
		{name: "no bounds, under 10m", requested: 9 * time.Minute, want: []string{"spec.duration.min FieldValueInvalid"}},
		{name: "within min and max", bounds: &v1alpha1.DurationBounds{Min: d(time.Hour), Max: d(48 * time.Hour)}, requested: 24 * time.Hour},
		{name: "at max", bounds: &v1alpha1.DurationBounds{Max: d(48 * time.Hour)}, requested: 48 * time.Hour},
		{name: "over max", bounds: &v1alpha1.DurationBounds{Max: d(48 * time.Hour)}, requested: 49 * time.Hour,
			want: []string{"spec.duration.max FieldValueInvalid"}},
		{name: "under min", bounds: &v1alpha1.DurationBounds{Min: d(time.Hour)}, requested: 30 * time.Minute,
			want: []string{"spec.duration.min FieldValueInvalid"}},
		{name: "none requested uses the policy default", bounds: &v1alpha1.DurationBounds{Max: d(48 * time.Hour), Default: d(24 * time.Hour)}},
		{name: "none requested and no default: max when shorter than 90 days", bounds: &v1alpha1.DurationBounds{Max: d(48 * time.Hour)}},
		{name: "none requested, no default, max under min is still refused", bounds: &v1alpha1.DurationBounds{Min: d(72 * time.Hour), Max: d(48 * time.Hour)},
			want: []string{"spec.duration.min FieldValueInvalid"}},
		{name: "none requested and the default is under min", bounds: &v1alpha1.DurationBounds{Min: d(2 * time.Hour), Default: d(time.Hour)},
			want: []string{"spec.duration.min FieldValueInvalid"}},
		{name: "negative lifetime counts as requested", requested: -time.Hour, want: []string{"spec.duration.min FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := basePolicy("p")
			p.Spec.Duration = tt.bounds
			req := baseRequest(t, baseTemplate())
			req.Duration = tt.requested
			assertFields(t, violations(&p, req), tt.want...)
		})
	}
}

func TestDefaultLifetime(t *testing.T) {
	d := func(v time.Duration) *metav1.Duration { return &metav1.Duration{Duration: v} }
	tests := []struct {
		name   string
		bounds *v1alpha1.DurationBounds
		want   time.Duration
	}{
		{"no bounds", nil, 90 * 24 * time.Hour},
		{"explicit default", &v1alpha1.DurationBounds{Default: d(time.Hour), Max: d(2 * time.Hour)}, time.Hour},
		{"max shorter than 90 days", &v1alpha1.DurationBounds{Max: d(48 * time.Hour)}, 48 * time.Hour},
		{"max longer than 90 days", &v1alpha1.DurationBounds{Max: d(10000 * time.Hour)}, 90 * 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := defaultLifetime(tt.bounds); got != tt.want {
			t.Errorf("%s: defaultLifetime = %s, want %s", tt.name, got, tt.want)
		}
	}
}
