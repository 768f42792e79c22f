package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes, defaults and validates the configuration file at
// path. A configuration with problems returns Errors listing all of them.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes, defaults and validates a configuration read from name.
// Relative *_file paths are resolved against name's directory.
func Parse(name string, data []byte) (*Config, error) {
	d := &decoder{file: name, baseDir: filepath.Dir(name), pos: map[string]Pos{}}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: name, Msg: "the file is empty"}}
		}
		return nil, Errors{{File: name, Msg: err.Error()}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: name, Pos: Pos{extra.Line, extra.Column}, Msg: "only one YAML document is allowed"}}
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	cfg := &Config{File: name}
	d.decode(doc, reflect.ValueOf(cfg).Elem(), "")
	cfg.applyDefaults()
	v := &validator{cfg: cfg, file: name, pos: d.pos, decodeErrs: d.errs}
	v.validate()
	errs := append(d.errs, v.errs...)
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool {
			a, b := errs[i].Pos, errs[j].Pos
			if a.Line != b.Line {
				return a.Line < b.Line
			}
			return a.Col < b.Col
		})
		return nil, errs
	}
	return cfg, nil
}
