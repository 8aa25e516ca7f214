package basestation_test

import (
	"os"
	"strings"
	"testing"
)

// TestLicencesListed: every module go.mod requires has a row in
// docs/licenses.md, so no dependency lands without its licence checked.
func TestLicencesListed(t *testing.T) {
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("docs/licenses.md")
	if err != nil {
		t.Fatal(err)
	}
	inBlock := false
	n := 0
	for _, line := range strings.Split(string(mod), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "require ("):
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		}
		var path string
		if inBlock {
			path = strings.Fields(line + " x")[0]
		} else if strings.HasPrefix(line, "require ") {
			path = strings.Fields(line)[1]
		}
		if path == "" || strings.HasPrefix(path, "//") {
			continue
		}
		n++
		if !strings.Contains(string(doc), "| "+path+" |") {
			t.Errorf("go.mod requires %s but docs/licenses.md has no row for it", path)
		}
	}
	if n < 5 {
		t.Fatalf("read only %d requirements from go.mod", n)
	}
}
