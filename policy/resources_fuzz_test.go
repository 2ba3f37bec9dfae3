package policy

import (
	"iter"
	"math"
	"math/big"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	corev1 "k8s.io/api/core/v1"
)

// tokensOf splits one command-line entry into words as commandTokens does.
func tokensOf(line string) []token {
	var out []token
	for _, w := range strings.Fields(line) {
		out = append(out, token{strings.Trim(w, `"';`), "args[0]"})
	}
	return out
}

// stopsEarly checks that a token iterator can be left after its first
// token: a range-over-func iterator that keeps yielding panics.
func stopsEarly(t *testing.T, name string, seq iter.Seq[token]) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%s: breaking out of the loop panicked: %v", name, r)
		}
	}()
	for range seq {
		break
	}
}

// digitsOnly reports whether s is one or more ASCII digits.
func digitsOnly(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// bigShifted is the decimal digits shifted left by shift bits.
func bigShifted(digits string, shift uint) *big.Int {
	n, _ := new(big.Int).SetString(digits, 10)
	return n.Lsh(n, shift)
}

func FuzzJVMHeap(f *testing.F) {
	for _, s := range []string{
		"-Xmx2g", "-XX:+UseG1GC -Xmx512m -jar app.jar", "-Xmx1048576k", "-Xmx1073741824", "-Xmx2G -Xmx1t",
		"-XX:MaxHeapSize=2g", "-Xms2g", "-Xmx2gb -Xmx -Xmx=2g", "-Xmx9223372036854775807", "-Xmx4194304t",
		"-Xmx4194303t", "-Xmx99999999999999999999", `"-Xmx2g"`, "-Xmx-1g", "-Xmx+1g", "-Xmx1g\u0085-Xmx2g",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		toks := tokensOf(line)
		got, ok := lastJVMHeap(slices.Values(toks))

		// The last word that is -Xmx or -XX:MaxHeapSize= with digits and an
		// optional unit, at most 2^62 bytes, wins.
		var want *heapSetting
		for _, tk := range toks {
			rest, isFlag := strings.CutPrefix(tk.text, "-Xmx")
			if !isFlag {
				rest, isFlag = strings.CutPrefix(tk.text, "-XX:MaxHeapSize=")
			}
			if !isFlag || rest == "" {
				continue
			}
			digits, shift := rest, uint(0)
			if i := strings.IndexByte("kKmMgGtT", rest[len(rest)-1]); i >= 0 {
				digits, shift = rest[:len(rest)-1], uint(10*(i/2+1))
			}
			if !digitsOnly(digits) {
				continue
			}
			if n := bigShifted(digits, shift); n.Cmp(big.NewInt(1<<62)) <= 0 {
				want = &heapSetting{bytes: n.Int64(), flag: tk.text, field: tk.field, runtime: "JVM"}
			}
		}
		sameHeap(t, "lastJVMHeap", line, got, ok, want)
		stopsEarly(t, "jvmLauncherOptions", jvmLauncherOptions(slices.Values(toks)))
	})
}

// sameHeap compares a heap parser's answer for line with the reference
// reading (nil: no setting).
func sameHeap(t *testing.T, parser, line string, got heapSetting, ok bool, want *heapSetting) {
	t.Helper()
	switch {
	case ok != (want != nil):
		t.Fatalf("%s(%q) found %v (%+v), want %+v", parser, line, ok, got, want)
	case ok && got != *want:
		t.Fatalf("%s(%q) = %+v, want %+v", parser, line, got, *want)
	case got.bytes < 0:
		t.Fatalf("%s(%q): negative heap %d", parser, line, got.bytes)
	}
}

func FuzzNodeHeap(f *testing.F) {
	for _, s := range []string{
		"node --max-old-space-size=4096 server.js", "--max-old-space-size 4096", "--max_old_space_size=3072",
		"--max-old-space-size= server.js", "--max-old-space-size", "--max-old-space-size --max-old-space-size=100",
		"--max-old-space-size=1099511627776", "--max-old-space-size=1099511627777", "--max-old-space-size 99999999999999999999",
		"--max-old-space-size +5", "--max-old-space-size -5", "--max-old_space-size=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		toks := tokensOf(line)
		got, ok := lastNodeHeap(slices.Values(toks))

		// The last --max-old-space-size (any mix of - and _ inside) with a
		// value of digits, after "=" or as the next word, of at most 2^40
		// MiB, wins.
		isName := func(s string) bool {
			rest, ok := strings.CutPrefix(s, "--max")
			for _, w := range []string{"old", "space", "size"} {
				if !ok || rest == "" || (rest[0] != '-' && rest[0] != '_') {
					return false
				}
				rest, ok = strings.CutPrefix(rest[1:], w)
			}
			return ok && rest == ""
		}
		var want *heapSetting
		for i, tk := range toks {
			name, val, eq := strings.Cut(tk.text, "=")
			if !isName(name) {
				continue
			}
			flag := tk.text
			if !eq {
				if i+1 == len(toks) {
					continue
				}
				val, flag = toks[i+1].text, tk.text+" "+toks[i+1].text
			}
			if !digitsOnly(val) {
				continue
			}
			if n := bigShifted(val, 0); n.Cmp(big.NewInt(1<<40)) <= 0 {
				want = &heapSetting{bytes: n.Int64() << 20, flag: flag, field: tk.field, runtime: "Node.js"}
			}
		}
		sameHeap(t, "lastNodeHeap", line, got, ok, want)
		stopsEarly(t, "nodeOptions", nodeOptions(slices.Values(toks)))
	})
}

func FuzzGoMemLimit(f *testing.F) {
	for _, s := range []string{
		"0", "1024", "2147483648", "1024B", "1KiB", "900MiB", "3GiB", "2TiB", " 3GiB ", "off", "", "B", "GiB",
		"1GB", "1G", "1gib", "1.5GiB", "-1", "-0", "+5MiB", "99999999999999999999", "9999999TiB", "4194304TiB",
		"4611686018427387904", "9223372036854775807", "1_000",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseGoMemLimit(s)

		// The Go runtime's syntax: an optionally signed decimal (a negative
		// one is refused) and an optional unit; nobackoff reads at most
		// 2^62 bytes and trims spaces.
		want, wantOK := int64(0), false
		v := strings.TrimSpace(s)
		shift := uint(0)
		for _, u := range []struct {
			suffix string
			shift  uint
		}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}} {
			if rest, found := strings.CutSuffix(v, u.suffix); found {
				v, shift = rest, u.shift
				break
			}
		}
		sign := ""
		if v != "" && (v[0] == '+' || v[0] == '-') {
			sign, v = v[:1], v[1:]
		}
		if digitsOnly(v) {
			n := bigShifted(v, 0)
			signedOK := sign != "-" || n.Sign() == 0
			if n.IsInt64() && signedOK && n.Lsh(n, shift).Cmp(big.NewInt(1<<62)) <= 0 {
				want, wantOK = n.Int64(), true
			}
		}
		if got != want || ok != wantOK {
			t.Fatalf("parseGoMemLimit(%q) = %d, %v; want %d, %v", s, got, ok, want, wantOK)
		}
	})
}

// launcherOptionsByIndex is jvmLauncherOptions over a slice, written with
// indexes and look-ahead, as a second reading of the same rules.
func launcherOptionsByIndex(toks []token) []token {
	var out []token
	sawJava, appArgs := false, false
	for i := 0; i < len(toks); i++ {
		t := toks[i].text
		if path.Base(t) == "java" {
			sawJava, appArgs = true, false
			continue
		}
		if appArgs {
			continue
		}
		if sawJava {
			switch {
			case t == "-jar" || t == "-m" || t == "--module":
				i++
				appArgs = true
				continue
			case jvmOptionWithArg(t):
				i++
				continue
			case !strings.HasPrefix(t, "-"):
				appArgs = true
				continue
			}
		}
		out = append(out, toks[i])
	}
	return out
}

// nodeOptionsByIndex is nodeOptions over a slice, with look-behind.
func nodeOptionsByIndex(toks []token) []token {
	var out []token
	sawNode, appArgs := false, false
	for i := 0; i < len(toks); i++ {
		t := toks[i].text
		if path.Base(t) == "node" || path.Base(t) == "nodejs" {
			sawNode, appArgs = true, false
			continue
		}
		if appArgs {
			continue
		}
		if sawNode && !strings.HasPrefix(t, "-") {
			if i > 0 && nodeOldFlag.MatchString(toks[i-1].text) && !strings.Contains(toks[i-1].text, "=") {
				out = append(out, toks[i])
				continue
			}
			appArgs = true
			continue
		}
		out = append(out, toks[i])
	}
	return out
}

func FuzzLauncherOptions(f *testing.F) {
	for _, s := range []string{
		"java -Xmx512m -jar app.jar -Xmx2g", "java -cp /app/lib/* com.example.Main -Xmx2g",
		"java -jar /migrate.jar -Xmx4g && exec java -Xmx2g -jar /app.jar", "-Xmx2g --max-old-space-size=2048",
		"node --max-old-space-size 4096 dist/main.js --inspect", "node dist/main.js --max-old-space-size=4096",
		"nodejs --max_old_space_size 1 -e x", "java -m mod/Main -Xmx1g", "java --module", "java -cp", "java java -jar",
		"/usr/bin/java -Xmx1g Main", "sh -c 'exec java $JAVA_OPTS -jar /app.jar'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		toks := tokensOf(line)
		if got, want := slices.Collect(jvmLauncherOptions(slices.Values(toks))), launcherOptionsByIndex(toks); !slices.Equal(got, want) {
			t.Fatalf("jvmLauncherOptions(%q) = %v, want %v", line, got, want)
		}
		if got, want := slices.Collect(nodeOptions(slices.Values(toks))), nodeOptionsByIndex(toks); !slices.Equal(got, want) {
			t.Fatalf("nodeOptions(%q) = %v, want %v", line, got, want)
		}
		direct := len(toks) > 0 && path.Base(toks[0].text) == "java" &&
			!slices.ContainsFunc(toks, func(tk token) bool { return strings.Contains(tk.text, "$") })
		if got := startsJavaDirectly(slices.Values(toks)); got != direct {
			t.Fatalf("startsJavaDirectly(%q) = %v, want %v", line, got, direct)
		}
		stopsEarly(t, "jvmLauncherOptions", jvmLauncherOptions(slices.Values(toks)))
		stopsEarly(t, "nodeOptions", nodeOptions(slices.Values(toks)))
	})
}

func FuzzCommandTokens(f *testing.F) {
	f.Add("sh", "-c\nexec java $(HEAP) -jar app.jar", "-Xmx2g")
	f.Add("java", "$(V)\n-jar\napp.jar", "-Xmx512m -XX:+UseG1GC")
	f.Add("/bin/sh", `-c`+"\n"+`exec java "-Xmx2g" '-Dx=y' -jar app.jar;`, "")
	f.Add("node", "--max-old-space-size\n$(W)\nserver.js", "2048")
	f.Add("$$(V)", "$(V\n$(", "$")
	f.Add("sh", "-c\n\u00a0java\u2028-Xmx1g", "\u0085")
	f.Fuzz(func(t *testing.T, command, args, value string) {
		c := ContainerRef{Container: &corev1.Container{Command: []string{command}, Args: strings.Split(args, "\n"),
			Env: []corev1.EnvVar{{Name: "V", Value: value}, {Name: "W", Value: "$(V)$(V)"}}}, Path: "spec.containers[0]"}
		env, err := envValues(c, newPodBudget())
		if err != nil {
			t.Fatalf("envValues: %v", err) // inputs this small are far below the bounds
		}
		if v, w := env.values["V"], env.values["W"]; w != v+v {
			t.Fatalf("W = %q, want V twice (V = %q)", w, v)
		}
		seq, err := commandTokens(c, env)
		if err != nil {
			t.Fatalf("commandTokens: %v", err)
		}
		toks := slices.Collect(seq)

		// Entry by entry, in order, the words of the expanded entry, each
		// with its entry's field.
		var want []token
		for _, e := range []struct {
			field, text string
		}{{"command[0]", command}} {
			want = appendWords(t, want, e.field, e.text, env)
		}
		for i, a := range c.Args {
			want = appendWords(t, want, "args["+strconv.Itoa(i)+"]", a, env)
		}
		if !slices.Equal(toks, want) {
			t.Fatalf("commandTokens = %v, want %v", toks, want)
		}
		for _, tk := range toks {
			if strings.IndexFunc(tk.text, unicode.IsSpace) >= 0 {
				t.Fatalf("token %q contains a space", tk.text)
			}
		}
		seq, _ = commandTokens(c, env)
		stopsEarly(t, "commandTokens", seq)
		stopsEarly(t, "envTokens", envTokens(env, "W"))
	})
}

// appendWords appends the words of one entry, expanded with env, as
// commandTokens should produce them.
func appendWords(t *testing.T, toks []token, field, text string, env *containerEnv) []token {
	t.Helper()
	expanded, ok := expandVars(text, env.values, math.MaxInt)
	if !ok {
		t.Fatalf("expandVars(%q) gave up without a bound", text)
	}
	if !strings.Contains(text, "$") && expanded != text {
		t.Fatalf("expandVars(%q) = %q: text without references must stay as it is", text, expanded)
	}
	for _, w := range strings.Fields(expanded) {
		toks = append(toks, token{strings.Trim(w, `"';`), field})
	}
	return toks
}

// expandByByte is the kubelet's $(VAR) syntax read one byte at a time: "$$"
// is a dollar; "$(" opens a reference that the next ")" closes, replaced by
// the variable's value when it is defined and kept as written otherwise;
// "$(" with no ")" after it stays and reading goes on after the "(";
// "$" before any other byte, or at the end, stays.
func expandByByte(s string, vars map[string]string) string {
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			out = append(out, s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			out = append(out, '$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				out = append(out, "$("...)
				i++
				continue
			}
			if v, ok := vars[s[i+2:i+2+end]]; ok {
				out = append(out, v...)
			} else {
				out = append(out, s[i:i+3+end]...)
			}
			i += 2 + end
		default:
			out = append(out, s[i], s[i+1])
			i++
		}
	}
	return string(out)
}

func FuzzExpandVars(f *testing.F) {
	for _, s := range []string{
		"", "plain -Xmx1g", "$(HEAP)", "java $(HEAP) -jar app.jar", "$(A)$(A)", "$$(HEAP)", "$$$(HEAP)", "$$$$",
		"$(UNKNOWN)", "$(HEAP", "pre $(HEAP", "$HEAP", "${HEAP}", "cost $", "$()", "$(A) and $(UNKNOWN) and $(A)",
		"$(HEAP $$", "$($(HEAP))", "$((HEAP))",
	} {
		f.Add(s, "HEAP", "-Xmx2g", uint16(8))
		f.Add(s, "A", "$(A)", uint16(0))
	}
	f.Fuzz(func(t *testing.T, s, name, value string, limit uint16) {
		vars := map[string]string{name: value}
		full, ok := expandVars(s, vars, math.MaxInt)
		if !ok {
			t.Fatalf("expandVars(%q) gave up without a bound", s)
		}
		if want := expandByByte(s, vars); full != want {
			t.Fatalf("expandVars(%q, %s=%q) = %q, want %q", s, name, value, full, want)
		}
		if !strings.Contains(s, "$") && full != s {
			t.Fatalf("expandVars(%q) = %q: text without references must stay as it is", s, full)
		}
		// Escaping every dollar gives the text back, whatever the variables.
		if back, _ := expandVars(strings.ReplaceAll(s, "$", "$$"), vars, math.MaxInt); back != s {
			t.Fatalf("expandVars of %q escaped = %q, want it back", s, back)
		}
		// A bound either holds the whole result or gives up with nothing.
		out, ok := expandVars(s, vars, int(limit))
		if ok != (len(full) <= int(limit)) || (ok && out != full) || (!ok && out != "") {
			t.Fatalf("expandVars(%q, limit %d) = %q, %v; the unbounded result is %q", s, limit, out, ok, full)
		}
	})
}
