package webhook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
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

// ManifestError is input nobackoff cannot read, located to the file,
// document and, where known, object and field.
type ManifestError struct {
	Where string
	Err   error
}

func (e *ManifestError) Error() string { return e.Where + ": " + e.Err.Error() }

func (e *ManifestError) Unwrap() error { return e.Err }

// isManifestFile reports the file endings read when walking a directory. A
// file named explicitly is read whatever its ending.
func isManifestFile(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// ReadManifests reads every object from the given paths: files,
// directories (recursively, *.yaml, *.yml, *.json) or "-" for stdin.
// Multi-document YAML, JSON and List objects are expanded. It returns what
// it could read together with an error for each part it could not.
func ReadManifests(paths []string, stdin io.Reader) ([]Document, []error) {
	var docs []Document
	var errs []error
	for _, p := range paths {
		if p == "-" {
			d, e := readStream("-", stdin)
			docs, errs = append(docs, d...), append(errs, e...)
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			errs = append(errs, &ManifestError{Where: p, Err: errors.Unwrap(err)})
			continue
		}
		files := []string{p}
		if info.IsDir() {
			files, err = manifestFiles(p)
			if err != nil {
				errs = append(errs, &ManifestError{Where: p, Err: err})
				continue
			}
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				errs = append(errs, &ManifestError{Where: f, Err: errors.Unwrap(err)})
				continue
			}
			d, e := readStream(f, fh)
			fh.Close()
			docs, errs = append(docs, d...), append(errs, e...)
		}
	}
	return docs, errs
}

func manifestFiles(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isManifestFile(p) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

// readStream splits a stream into YAML documents (JSON is YAML) and reads
// each.
func readStream(source string, r io.Reader) ([]Document, []error) {
	var docs []Document
	var errs []error
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for index := 1; ; index++ {
		raw, err := yr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, &ManifestError{Where: fmt.Sprintf("%s: document %d", source, index), Err: err})
			break
		}
		d, e := readDocument(source, index, raw)
		docs, errs = append(docs, d...), append(errs, e...)
	}
	return docs, errs
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
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	data, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return nil, []error{&ManifestError{Where: where, Err: err}}
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil, nil // a document of comments only
	}
	d, err := newDocument(source, index, 0, data)
	if err != nil {
		return nil, []error{err}
	}
	if !strings.HasSuffix(d.GVK.Kind, "List") {
		return []Document{*d}, nil
	}
	var tm listItems
	if err := json.Unmarshal(data, &tm); err != nil {
		return nil, []error{&ManifestError{Where: d.Where(), Err: fmt.Errorf("items: %w", err)}}
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
	if err := json.Unmarshal(data, &tm); err != nil {
		return nil, &ManifestError{Where: d.Where(), Err: fmt.Errorf("not a Kubernetes object: %w", err)}
	}
	d.Namespace, d.Name = tm.Metadata.Namespace, tm.Metadata.Name
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	if err != nil {
		return nil, &ManifestError{Where: d.Where(), Err: fmt.Errorf("apiVersion: %w", err)}
	}
	d.GVK = gv.WithKind(tm.Kind)
	switch {
	case tm.Kind == "":
		return nil, &ManifestError{Where: d.Where(), Err: errors.New("kind: missing")}
	case tm.APIVersion == "":
		return nil, &ManifestError{Where: d.Where(), Err: errors.New("apiVersion: missing")}
	}
	return d, nil
}
