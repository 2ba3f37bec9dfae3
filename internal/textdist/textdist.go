// Package textdist measures how far apart two names are, for suggesting
// the name that was probably meant.
package textdist

import "sort"

// Distance is the Levenshtein distance between two strings, by byte.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Closest orders names by their distance to want, nearest first (ties in
// name order), without changing names.
func Closest(want string, names []string) []string {
	out := append([]string(nil), names...)
	d := make(map[string]int, len(out))
	for _, n := range out {
		d[n] = Distance(want, n)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if d[out[i]] != d[out[j]] {
			return d[out[i]] < d[out[j]]
		}
		return out[i] < out[j]
	})
	return out
}

// Near returns the names close enough to want to be a slip of the keyboard
// (at most a third of the longer name, at least 1 and at most 4 edits),
// nearest first.
func Near(want string, names []string) []string {
	var out []string
	for _, n := range Closest(want, names) {
		if n == want {
			continue
		}
		if Distance(want, n) > min(4, max(1, max(len(want), len(n))/3)) {
			break
		}
		out = append(out, n)
	}
	return out
}
