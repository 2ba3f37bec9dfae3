package policy

import (
	"strings"
	"testing"
)

// BenchmarkParseImage measures ParseImage on ordinary references and on
// references far longer than any valid one, whose cost grows with their
// length.
func BenchmarkParseImage(b *testing.B) {
	const n = 1 << 20
	cases := []struct{ name, image string }{
		{"short", "registry.example.com/team/app:1.2.3"},
		{"digest", "registry.example.com/team/app:1.2.3@" + sha},
		{"long-path-1MiB", strings.Repeat("a/", n/2) + "a"},
		{"long-tag-1MiB", "nginx:" + strings.Repeat("a", n)},
		{"long-host-1MiB", strings.Repeat("a", n) + ".example.com/app:1"},
		{"long-garbage-1MiB", strings.Repeat("A!", n/2)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.image)))
			for b.Loop() {
				_, _ = ParseImage(tc.image)
			}
		})
	}
}
