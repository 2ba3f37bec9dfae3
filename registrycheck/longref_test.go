package registrycheck

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/nobackoff/nobackoff/internal/testregistry"
)

// longReferences are image strings of n bytes in the shapes a pod author
// can write: not a reference at all, a repository path past the 255
// characters distribution allows, and a registry host no DNS name can be.
func longReferences(n int) map[string]string {
	return map[string]string{
		"garbage": strings.Repeat("A!", n/2),
		"path":    "registry.example.com/" + strings.Repeat("a", n) + ":1.0",
		"domain":  strings.Repeat("a", n) + ".example.com/team/app:1.0",
	}
}

func BenchmarkResolveLongReference(b *testing.B) {
	r := NewResolver(Options{})
	ctx := context.Background()
	for _, n := range []int{1 << 10, 1 << 16, 1 << 20} {
		for shape, image := range longReferences(n) {
			b.Run(shape+"/"+byteSize(n), func(b *testing.B) {
				b.SetBytes(int64(len(image)))
				b.ReportAllocs()
				for b.Loop() {
					r.Resolve(ctx, image, nil)
				}
			})
		}
	}
}

// BenchmarkParseLongestReference is the parse a valid reference costs at
// the bound: what a string just under it still pays.
func BenchmarkParseLongestReference(b *testing.B) {
	image := longestReference()
	b.SetBytes(int64(len(image)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseImage(image); err != nil {
			b.Fatal(err)
		}
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return itoa(n>>20) + "MiB"
	case n >= 1<<10:
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// longestReference is a reference of exactly maxReferenceLength
// characters that distribution accepts: a 253-character host with a
// 5-digit port, a 255-character path, a 128-character tag and a sha512
// digest.
func longestReference() string {
	label := strings.Repeat("r", 63)
	host := label + "." + label + "." + label + "." + strings.Repeat("r", 58) + ".io" // 253
	path := "team/" + strings.Repeat("a", 250)
	tag := "v" + strings.Repeat("1", 127)
	digest := "sha512:" + strings.Repeat("0f", 64)
	return host + ":65535/" + path + ":" + tag + "@" + digest
}

func TestReferenceLengthBound(t *testing.T) {
	longest := longestReference()
	if len(longest) != maxReferenceLength {
		t.Fatalf("test reference is %d characters, want %d", len(longest), maxReferenceLength)
	}
	if _, err := parseImage(longest); err != nil {
		t.Fatalf("the longest pullable reference is refused: %v", err)
	}
	if _, err := parseImage(longest + "1"); !errors.Is(err, errReferenceTooLong) {
		t.Fatalf("a reference one character longer: %v, want too long", err)
	}
}

// TestLongReferenceRejectedEarly: a megabyte image string is refused
// before it is parsed, costing a few allocations of its own, not a
// parse's.
func TestLongReferenceRejectedEarly(t *testing.T) {
	r := NewResolver(Options{})
	for shape, image := range longReferences(1 << 20) {
		var res Result
		n := allocated(func() { res = r.Resolve(context.Background(), image, nil) })
		if res.Outcome != Unreachable || res.Repository != "" || len(res.Attempts) != 0 {
			t.Errorf("%s: %s, repository %q, %d attempts; want refused before any lookup", shape, res.Attempt, res.Repository, len(res.Attempts))
		}
		if _, err := parseImage(image); !errors.Is(err, errReferenceTooLong) {
			t.Errorf("%s: %v, want too long", shape, err)
		}
		if n > 64<<10 {
			t.Errorf("%s: refusing a 1 MiB image allocated %d bytes", shape, n)
		}
	}
}

// TestInspectDoesNotParseAgain: Inspect works from the reference Resolve
// parsed, not from the image string.
func TestInspectDoesNotParseAgain(t *testing.T) {
	reg := testregistry.New(t)
	reg.Push("team/app:1.0", testregistry.Image(t, v1.Config{User: "1000"}, amd64))
	r := newTestResolver(Options{})
	res := r.Resolve(context.Background(), reg.Host+"/team/app:1.0", nil)
	if res.Outcome != OK {
		t.Fatalf("%s", res.Attempt)
	}
	res.Image = strings.Repeat("A!", 1<<19) // would not parse
	info, err := r.Inspect(context.Background(), res, []Platform{{OS: "linux", Architecture: "amd64"}}, true)
	if err != nil || info.Config == nil || info.Config.User != "1000" {
		t.Fatalf("%+v, %v", info, err)
	}
}
