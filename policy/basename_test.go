package policy

import (
	"path"
	"testing"
)

// baseIs is path.Base(word) == name, with a cheap rejection first.
func TestBaseIs(t *testing.T) {
	words := []string{"java", "/usr/bin/java", "java/", "/opt/java//", "./java", "javac", "myjava", "/x/myjava",
		"node", "/usr/local/bin/node", "nodejs", "node.js", "/", "", "//", "-Xmx512m", "a/java/b", "java.exe"}
	for _, w := range words {
		for _, name := range []string{"java", "node", "nodejs"} {
			if got, want := baseIs(w, name), path.Base(w) == name; got != want {
				t.Errorf("baseIs(%q, %q) = %v, path.Base says %v", w, name, got, want)
			}
		}
	}
}
