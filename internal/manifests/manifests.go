package manifests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	yaml3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/nobackoff/nobackoff/internal/workload"
)

// Document is one object read from a manifest file.
type Document struct {
	// Source is the file it came from ("-" for standard input) and Index
	// its 1-based position among the file's YAML documents; Item is the
	// 1-based position inside a List, 0 when not in one.
	Source string
	Index  int
	Item   int
	GVK    schema.GroupVersionKind
	// Namespace and Name are as written in the file.
	Namespace, Name string
	// JSON is the object as JSON.
	JSON []byte
}

// Where names the document for error messages: file: document 2 (Deployment shop/web).
func (d *Document) Where() string {
	loc := fmt.Sprintf("%s: document %d", d.Source, d.Index)
	if d.Item > 0 {
		loc += fmt.Sprintf(", item %d", d.Item)
	}
	if d.GVK.Kind == "" {
		return loc
	}
	obj := d.GVK.Kind
	switch {
	case d.Namespace != "" && d.Name != "":
		obj += " " + d.Namespace + "/" + d.Name
	case d.Name != "":
		obj += " " + d.Name
	}
	return loc + " (" + obj + ")"
}

// Error is input nobackoff cannot read, located to the file, document
// and, where known, object and field.
type Error struct {
	Where string
	Err   error
}

func (e *Error) Error() string { return e.Where + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// isManifestFile reports the file endings read when walking a directory. A
// file named explicitly is read whatever its ending.
func isManifestFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// Read reads every object from the given paths: files, directories
// (recursively, *.yaml, *.yml, *.json) or "-" for stdin. Multi-document
// YAML, JSON and List objects are expanded. It returns what it could read
// together with an error for each part it could not. Input over the limits
// of limits.go is an *Error wrapping a *workload.LimitError.
func Read(paths []string, stdin io.Reader) ([]Document, []error) {
	var docs []Document
	var errs []error
	read := func(d []Document, e []error) {
		docs, errs = append(docs, d...), append(errs, e...)
	}
	for _, p := range paths {
		if p == "-" {
			read(ReadStream("-", stdin))
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &Error{Where: p, Err: pathError(err)})
			continue
		}
		switch mode := info.Mode(); {
		case mode.IsDir():
			files, ferrs := manifestFiles(p)
			errs = append(errs, ferrs...)
			for _, f := range files {
				read(readFile(f, false))
			}
		case mode.IsRegular():
			read(readFile(p, false))
		case mode&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0:
			// Named explicitly, a pipe is what the user means to read:
			// -f /dev/stdin, -f <(helm template ...). MaxManifestBytes
			// ends an endless one.
			read(readFile(p, true))
		default:
			errs = append(errs, &Error{Where: p, Err: fmt.Errorf("%s, not a file or directory", fileKind(mode))})
		}
	}
	return docs, errs
}

// readFile reads one file. Unless stream is set it must be a regular file:
// it is opened without blocking and checked once open, so that a named
// pipe put in its place is refused rather than waited on forever.
func readFile(path string, stream bool) ([]Document, []error) {
	fail := func(err error) ([]Document, []error) {
		return nil, []error{&Error{Where: path, Err: err}}
	}
	if stream {
		fh, err := os.Open(path)
		if err != nil {
			return fail(pathError(err))
		}
		defer fh.Close()
		return ReadStream(path, fh)
	}
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fail(pathError(err))
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return fail(pathError(err))
	}
	if !info.Mode().IsRegular() {
		return fail(fmt.Errorf("%s, not a regular file: not read", fileKind(info.Mode())))
	}
	return ReadStream(path, fh)
}

// fileKind names what a non-regular file is, for errors.
func fileKind(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case mode&fs.ModeSocket != 0:
		return "a socket"
	case mode&fs.ModeDevice != 0:
		return "a device"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}

// pathError drops the operation and path from a file system error: the
// Error around it names the path already.
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// manifestFiles lists the manifest files under dir, sorted. Only regular
// files are read, and symbolic links to them; anything else with a
// manifest's name (a named pipe would block the read forever) is an error,
// never silently passed over. Links to directories are not followed, so a
// link cycle cannot loop the walk.
func manifestFiles(dir string) ([]string, []error) {
	var files []string
	var errs []error
	root := dir
	if fi, err := os.Lstat(dir); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		// The directory was named through a link: walk what it points to.
		root = dir + string(filepath.Separator)
	}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, &Error{Where: p, Err: pathError(err)})
			return nil
		}
		if d.IsDir() || !isManifestFile(p) {
			return nil
		}
		mode := d.Type()
		if mode&fs.ModeSymlink != 0 {
			target, err := os.Stat(p)
			if err != nil {
				errs = append(errs, &Error{Where: p, Err: pathError(err)})
				return nil
			}
			if !target.Mode().IsRegular() {
				errs = append(errs, &Error{Where: p, Err: fmt.Errorf("a link to %s, not a regular file: not read", fileKind(target.Mode()))})
				return nil
			}
			mode = target.Mode()
		}
		if !mode.IsRegular() {
			errs = append(errs, &Error{Where: p, Err: fmt.Errorf("%s, not a regular file: not read", fileKind(mode))})
			return nil
		}
		files = append(files, p)
		return nil
	})
	sort.Strings(files)
	return files, errs
}

// ReadStream splits a stream into YAML documents (JSON is YAML) and reads
// each, within MaxManifestBytes, MaxManifestDocuments and
// MaxManifestJSONBytes. source names the stream in the documents and
// errors ("-" for standard input).
func ReadStream(source string, r io.Reader) ([]Document, []error) {
	var docs []Document
	var errs []error
	yr := utilyaml.NewYAMLReader(bufio.NewReader(&cappedReader{r: r, left: MaxManifestBytes}))
	held := 0 // bytes of JSON in docs
	for index := 1; ; index++ {
		raw, err := yr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		where := fmt.Sprintf("%s: document %d", source, index)
		if err != nil {
			errs = append(errs, &Error{Where: where, Err: err})
			break
		}
		if index > MaxManifestDocuments {
			errs = append(errs, &Error{Where: where, Err: &workload.LimitError{What: unitDocuments, Limit: MaxManifestDocuments, Got: index, AtLeast: true}})
			break
		}
		d, e := readDocument(source, index, raw)
		for i := range d {
			held += len(d[i].JSON)
		}
		if held > MaxManifestJSONBytes {
			errs = append(errs, &Error{Where: where, Err: &workload.LimitError{
				What: unitJSONBytes, Limit: MaxManifestJSONBytes, Got: held, AtLeast: true}})
			break
		}
		docs, errs = append(docs, d...), append(errs, e...)
	}
	return docs, errs
}

// cappedReader reads up to left bytes, then fails with a
// *workload.LimitError rather than reporting the end of input, so the
// document cut short is never read as if it were whole.
type cappedReader struct {
	r    io.Reader
	left int
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.left < 0 {
		return 0, &workload.LimitError{What: unitBytes, Limit: MaxManifestBytes, AtLeast: true}
	}
	// One byte more than is left tells whether the input goes on.
	if len(p) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if n > c.left {
		n, c.left = c.left, -1
		return n, &workload.LimitError{What: unitBytes, Limit: MaxManifestBytes, AtLeast: true}
	}
	c.left -= n
	return n, err
}

// typeAndMeta is the part of an object read before its kind is known.
type typeAndMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// listItems is the part of a List read to expand it.
type listItems struct {
	Items []json.RawMessage `json:"items"`
}

func readDocument(source string, index int, raw []byte) ([]Document, []error) {
	where := fmt.Sprintf("%s: document %d", source, index)
	fail := func(where string, err error) ([]Document, []error) {
		return nil, []error{&Error{Where: where, Err: err}}
	}
	if len(raw) > MaxDocumentBytes {
		return fail(where, &workload.LimitError{What: unitBytes, Limit: MaxDocumentBytes, Got: len(raw)})
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	// The conversion below expands every alias in memory: measure what it
	// would produce first.
	if err := checkAliases(source, index, raw); err != nil {
		return nil, []error{err}
	}
	var data []byte
	err := parseSafely(func() (err error) {
		data, err = yaml.YAMLToJSONStrict(raw)
		return err
	})
	if err != nil {
		return fail(where, err)
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil, nil // a document of comments only
	}
	d, err := newDocument(source, index, 0, data)
	if err != nil {
		return nil, []error{err}
	}
	if len(data) > MaxObjectBytes {
		return fail(d.Where(), &workload.LimitError{What: unitJSONBytes, Limit: MaxObjectBytes, Got: len(data)})
	}
	if !strings.HasSuffix(d.GVK.Kind, "List") {
		return []Document{*d}, nil
	}
	var tm listItems
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &tm); err != nil {
		return nil, []error{&Error{Where: d.Where(), Err: fmt.Errorf("items: %w", err)}}
	}
	var docs []Document
	var errs []error
	for i, item := range tm.Items {
		it, err := newDocument(source, index, i+1, item)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		docs = append(docs, *it)
	}
	return docs, errs
}

func newDocument(source string, index, item int, data []byte) (*Document, error) {
	d := &Document{Source: source, Index: index, Item: item, JSON: data}
	var tm typeAndMeta
	// Field names are case-sensitive, as for the API server: "Kind" is not
	// "kind".
	if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &tm); err != nil {
		return nil, &Error{Where: d.Where(), Err: fmt.Errorf("not a Kubernetes object: %w", err)}
	}
	d.Namespace, d.Name = tm.Metadata.Namespace, tm.Metadata.Name
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return nil, &Error{Where: d.Where(), Err: fmt.Errorf("apiVersion: %w", err)}
	}
	d.GVK = gv.WithKind(tm.Kind)
	switch {
	case tm.Kind == "":
		return nil, &Error{Where: d.Where(), Err: errors.New("kind: missing")}
	case tm.APIVersion == "":
		return nil, &Error{Where: d.Where(), Err: errors.New("apiVersion: missing")}
	case gv.Version == "":
		// "apps/" parses as a group without a version.
		return nil, &Error{Where: d.Where(), Err: fmt.Errorf("apiVersion %q: no version", tm.APIVersion)}
	}
	return d, nil
}

// checkAliases refuses a document whose YAML aliases would expand it past
// MaxObjectBytes, or past MaxAliasExpansion times its size with each alias
// counted as written, before anything is expanded: the YAML to JSON
// conversion materialises every alias, so one large scalar aliased
// thousands of times would take gigabytes. The document is parsed into a
// tree where an alias points to its anchor, which costs memory in
// proportion to the text, and sized with each anchor measured once.
func checkAliases(source string, index int, raw []byte) error {
	// Without an anchor (&) and an alias (*) nothing can expand: spare
	// most documents the second parse.
	if bytes.IndexByte(raw, '&') < 0 || bytes.IndexByte(raw, '*') < 0 {
		return nil
	}
	where := fmt.Sprintf("%s: document %d", source, index)
	var root yaml3.Node
	if err := parseSafely(func() error { return yaml3.Unmarshal(raw, &root) }); err != nil {
		return &Error{Where: where, Err: err}
	}
	if d := identify(&root); d.GVK.Kind != "" {
		d.Source, d.Index = source, index
		where = d.Where()
	}
	flat, err := (&jsonSizer{limit: math.MaxInt / 2}).size(&root)
	if err != nil {
		return &Error{Where: where, Err: err}
	}
	limit := min(MaxObjectBytes, MaxAliasExpansion*flat)
	expanded, err := (&jsonSizer{limit: limit, anchors: map[*yaml3.Node]int{}}).size(&root)
	if err != nil {
		return &Error{Where: where, Err: err}
	}
	if expanded > limit {
		return &Error{Where: where, Err: &workload.LimitError{What: unitExpandedBytes, Limit: limit, Got: expanded, AtLeast: true}}
	}
	return nil
}

// parseSafely runs a YAML parser, turning a panic inside it into an error:
// the parsers are third-party code fed arbitrary files, and one bad
// document must not end the run with a stack trace.
func parseSafely(parse func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("YAML parser failed: %v", p)
		}
	}()
	return parse()
}

// jsonSizer measures about how many bytes of JSON a YAML tree converts to.
// With anchors set it expands aliases, measuring each anchored node once;
// without, an alias counts as written. Sizes stop growing past limit, so
// neither the walk nor the arithmetic runs away.
type jsonSizer struct {
	limit int
	// anchors holds the measured size of each anchored node, -1 while
	// it is being measured.
	anchors map[*yaml3.Node]int
}

func (s *jsonSizer) size(n *yaml3.Node) (int, error) {
	if n == nil {
		return 0, nil
	}
	expand := s.anchors != nil
	if n.Kind == yaml3.AliasNode {
		if !expand {
			return len(n.Value) + 2, nil // *name and a separator
		}
		return s.size(n.Alias)
	}
	if expand && n.Anchor != "" {
		if got, ok := s.anchors[n]; ok {
			if got < 0 {
				return 0, fmt.Errorf("line %d: alias of &%s inside its own value", n.Line, n.Anchor)
			}
			return got, nil
		}
		s.anchors[n] = -1
	}
	total := 0
	switch n.Kind {
	case yaml3.ScalarNode:
		total = quotedLen(n.Value) + 1
	case yaml3.MappingNode, yaml3.SequenceNode:
		total = 2
	}
	for _, c := range n.Content {
		got, err := s.size(c)
		if err != nil {
			return 0, err
		}
		if total += got; total > s.limit {
			total = s.limit + 1
			break
		}
	}
	if expand && n.Anchor != "" {
		s.anchors[n] = total
	}
	return total, nil
}

// quotedLen is the length of s as a JSON string, as encoding/json writes
// it (escaping <, > and & too).
func quotedLen(s string) int {
	n := 2
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
			n += 2
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			n += 6
		default:
			n++
		}
	}
	return n
}

// identify reads the kind, apiVersion, namespace and name written at the
// top of a parsed document, for errors found before it is converted.
func identify(root *yaml3.Node) *Document {
	d := &Document{}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml3.MappingNode {
		return d
	}
	scalar := func(m *yaml3.Node, key string) string {
		for i := 0; i+1 < len(m.Content); i += 2 {
			if m.Content[i].Value == key && m.Content[i+1].Kind == yaml3.ScalarNode {
				return m.Content[i+1].Value
			}
		}
		return ""
	}
	top := root.Content[0]
	gv, err := schema.ParseGroupVersion(scalar(top, "apiVersion"))
	if err != nil {
		return d
	}
	d.GVK = gv.WithKind(scalar(top, "kind"))
	for i := 0; i+1 < len(top.Content); i += 2 {
		if m := top.Content[i+1]; top.Content[i].Value == "metadata" && m.Kind == yaml3.MappingNode {
			d.Namespace, d.Name = scalar(m, "namespace"), scalar(m, "name")
		}
	}
	return d
}
