package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// fileSuffix turns a Secret key into the key naming a file that holds it.
const fileSuffix = "_file"

// decoder walks a yaml.Node tree into the schema structs. Unlike
// yaml.Decoder it keeps going after an error, so one run reports every
// problem, and it remembers where each value was written (pos) so that
// validation errors can point at the line too.
type decoder struct {
	file    string
	baseDir string
	errs    Errors
	pos     map[string]Pos // key path → position of its value (or key)
}

type scalarParser interface {
	parseScalar(s string) error
}

var (
	secretType  = reflect.TypeFor[Secret]()
	scalarIface = reflect.TypeFor[scalarParser]()
	enumIface   = reflect.TypeFor[enum]()
)

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{
		File: d.file,
		Pos:  Pos{Line: n.Line, Col: n.Column},
		Path: path,
		Msg:  fmt.Sprintf(format, args...),
	})
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected YAML node"
}

// decode stores n into v (addressable), reporting problems under path.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	d.pos[path] = Pos{Line: n.Line, Col: n.Column}

	if v.Kind() == reflect.Pointer {
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return // absent value, pointer stays nil
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
		return
	}

	if v.Addr().Type().Implements(scalarIface) {
		if !d.wantScalar(n, path) {
			return
		}
		if err := v.Addr().Interface().(scalarParser).parseScalar(n.Value); err != nil {
			d.errorf(n, path, "%v", err)
		}
		return
	}

	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a list, found %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if !d.wantScalar(n, path) {
			return
		}
		if v.Type().Implements(enumIface) {
			if err := oneOf(n.Value, v.Interface().(enum).allowed()); err != nil {
				d.errorf(n, path, "%v", err)
				return
			}
		}
		v.SetString(n.Value)
	case reflect.Int:
		if !d.wantScalar(n, path) {
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			d.errorf(n, path, "%q is not a whole number", n.Value)
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		if !d.wantScalar(n, path) {
			return
		}
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.errorf(n, path, "%q is not true or false", n.Value)
			return
		}
		v.SetBool(b)
	default:
		panic(fmt.Sprintf("config: schema field %s has unsupported kind %s", path, v.Kind()))
	}
}

func (d *decoder) wantScalar(n *yaml.Node, path string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, path, "expected a value, found %s", kindName(n))
		return false
	}
	return true
}

// field is one schema struct field as the decoder sees it.
type field struct {
	index int
	name  string
	none  bool // the scalar "none" means "leave this pointer nil"
}

func structFields(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fs = append(fs, field{index: i, name: name, none: opts == "none"})
	}
	return fs
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	fields := structFields(v.Type())
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, found %s", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		kpath := join(path, key)
		if seen[key] {
			d.errorf(k, kpath, "key given twice")
			continue
		}
		seen[key] = true
		f, ok := lookup(fields, key)
		if ok {
			d.decodeField(val, v.Field(f.index), f, kpath)
			continue
		}
		// name_file for a Secret field name.
		if base, isFile := strings.CutSuffix(key, fileSuffix); isFile {
			if f, ok := lookup(fields, base); ok && v.Field(f.index).Type() == secretType {
				bpath := join(path, base)
				if seen[base] {
					d.errorf(k, kpath, "give %s or %s, not both", base, key)
					continue
				}
				seen[base] = true
				d.pos[bpath] = Pos{Line: val.Line, Col: val.Column}
				d.readSecretFile(val, v.Field(f.index), kpath)
				continue
			}
		}
		d.errorf(k, kpath, "unknown key; known keys here: %s", knownKeys(v.Type(), fields))
	}
}

func (d *decoder) decodeField(n *yaml.Node, v reflect.Value, f field, path string) {
	if f.none && n.Kind == yaml.ScalarNode && n.Value == "none" {
		d.pos[path] = Pos{Line: n.Line, Col: n.Column}
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.Type() == secretType {
		// A secret's value never appears in an error, so do not let the
		// generic scalar path quote it.
		if !d.wantScalar(n, path) {
			return
		}
		d.pos[path] = Pos{Line: n.Line, Col: n.Column}
		b, err := decodeHex(n.Value)
		if err != nil {
			d.errorf(n, path, "secret %v", err)
			return
		}
		v.SetBytes(b)
		return
	}
	d.decode(n, v, path)
}

func (d *decoder) readSecretFile(n *yaml.Node, v reflect.Value, path string) {
	if !d.wantScalar(n, path) {
		return
	}
	name := n.Value
	if !filepath.IsAbs(name) {
		name = filepath.Join(d.baseDir, name)
	}
	fi, err := os.Stat(name)
	if err != nil {
		d.errorf(n, path, "cannot read secret file: %v", err)
		return
	}
	if !fi.Mode().IsRegular() {
		d.errorf(n, path, "%s is not a regular file", name)
		return
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		d.errorf(n, path, "%s is readable by group or others (mode %04o); run: chmod 600 %s", name, perm, name)
		return
	}
	data, err := os.ReadFile(name)
	if err != nil {
		d.errorf(n, path, "cannot read secret file: %v", err)
		return
	}
	b, err := decodeHex(strings.TrimSpace(string(data)))
	if err != nil {
		d.errorf(n, path, "content of %s %v", name, err)
		return
	}
	v.SetBytes(b)
}

func lookup(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.name == key {
			return f, true
		}
	}
	return field{}, false
}

func knownKeys(t reflect.Type, fields []field) string {
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.name)
		if t.Field(f.index).Type == secretType {
			names = append(names, f.name+fileSuffix)
		}
	}
	return strings.Join(names, ", ")
}
