package provisioning

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The default dial plan is the one docs/mqtt-api.md documents (§3.2, the
// dial_plan row), pattern for pattern: provisioning owns the one default
// the base applies.
func TestDefaultDialPlanIsTheDocumentedOne(t *testing.T) {
	b, err := os.ReadFile("../docs/mqtt-api.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "| `dial_plan` |") {
			row = l
		}
	}
	_, def, ok := strings.Cut(row, "default ")
	if !ok {
		t.Fatalf("no default in the dial_plan row %q", row)
	}
	var doc []string
	for _, m := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(def, -1) {
		doc = append(doc, m[1])
	}
	if got := DefaultDialPlan(); !slices.Equal(got, doc) {
		t.Fatalf("DefaultDialPlan %q, documented %q", got, doc)
	}
	c := (&Config{}).WithDefaults()
	if !slices.Equal(c.System.DialPlan, doc) {
		t.Fatalf("a configuration without dial_plan gets %q, documented %q", c.System.DialPlan, doc)
	}
}
