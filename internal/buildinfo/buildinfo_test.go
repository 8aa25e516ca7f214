package buildinfo

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The version --version prints is the top entry of CHANGELOG.md.
func TestVersionIsChangelogTop(t *testing.T) {
	b, err := os.ReadFile("../../CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^## \[?([0-9][^\] ]*)`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("CHANGELOG.md has no '## <version>' entry")
	}
	if m[1] != Version {
		t.Fatalf("CHANGELOG.md's top entry is %q, buildinfo.Version is %q", m[1], Version)
	}
}

func TestString(t *testing.T) {
	s := String("basestationd")
	if !strings.HasPrefix(s, "basestationd "+Version+" (commit ") || !strings.Contains(s, "go1.") {
		t.Fatalf("String = %q", s)
	}
}
