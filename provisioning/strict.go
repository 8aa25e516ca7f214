package provisioning

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// DecodeStrict decodes one JSON document into v (a non-nil pointer) and
// refuses what encoding/json lets through:
//
//   - a key given twice in one object, at any depth ("last one wins" would
//     let a second "linx" bypass one-device-per-type), including two keys
//     that encoding/json folds onto the same field ("linx" and "Linx");
//   - a key that names no field of the target struct;
//   - anything after the document.
//
// Errors name the place as a field path, e.g.
// `extensions[0].devices: duplicate key "linx"`. Type errors keep
// encoding/json's dotted field name. It is the one decoder of outside
// JSON for the configuration, commands, the cloud side and the daemon's
// configuration file.
func DecodeStrict(b []byte, v any) error {
	return decodeJSON(b, v, true)
}

// DecodeNoDuplicates is DecodeStrict for payloads that may carry fields
// this version does not know (a newer base's reports, read by the cloud
// side): duplicate keys and trailing data are refused, unknown keys are
// ignored.
func DecodeNoDuplicates(b []byte, v any) error {
	return decodeJSON(b, v, false)
}

func decodeJSON(b []byte, v any, strict bool) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("decode: target is not a non-nil pointer")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return errors.New("empty document")
	}
	w := walker{dec: json.NewDecoder(bytes.NewReader(b)), strict: strict}
	w.dec.UseNumber()
	if err := w.value(rv.Type().Elem(), ""); err != nil {
		return err
	}
	if _, err := w.dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON document")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}

// walker checks a document's keys against the target type before it is
// decoded.
type walker struct {
	dec    *json.Decoder
	strict bool
	depth  int
}

// maxDepth bounds the nesting of a document (the contract's documents
// nest a handful of levels; encoding/json itself stops at 10000).
const maxDepth = 64

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// value walks one JSON value at path; t is the Go type it decodes into
// (nil: unknown, only duplicates are checked).
func (w *walker) value(t reflect.Type, path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return walkError(err, path)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || t.Kind() == reflect.Interface) {
		t = nil // decodes itself (json.RawMessage, time.Time) or anything
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar: encoding/json checks its type
	}
	if w.depth++; w.depth > maxDepth {
		return fmt.Errorf("%s: nested deeper than %d levels", where(path), maxDepth)
	}
	defer func() { w.depth-- }()
	switch d {
	case '{':
		return w.object(t, path)
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err := w.dec.Token() // ']'
		return walkError(err, path)
	}
	return fmt.Errorf("%s: malformed JSON", where(path))
}

func (w *walker) object(t reflect.Type, path string) error {
	var fields map[string]structField // by exact JSON name
	isStruct := t != nil && t.Kind() == reflect.Struct
	if isStruct {
		fields = fieldsOf(t)
	}
	var elem reflect.Type
	if t != nil && t.Kind() == reflect.Map {
		elem = t.Elem()
	}
	seen := map[string]string{} // field identity -> key as written
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return walkError(err, path)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%s: malformed JSON: object key is not a string", where(path))
		}
		id, sub := key, elem
		if isStruct {
			f, found := lookupField(fields, key)
			switch {
			case found:
				id, sub = f.name, f.typ
			case w.strict:
				return fmt.Errorf("%s: unknown field %q", where(path), key)
			default:
				id, sub = "\x00"+key, nil // unknown, ignored by the decoder
			}
		}
		if prev, dup := seen[id]; dup {
			if prev == key {
				return fmt.Errorf("%s: duplicate key %q", where(path), key)
			}
			return fmt.Errorf("%s: duplicate key %q (same field as %q)", where(path), key, prev)
		}
		seen[id] = key
		if err := w.value(sub, join(path, key)); err != nil {
			return err
		}
	}
	_, err := w.dec.Token() // '}'
	return walkError(err, path)
}

type structField struct {
	name string // JSON name
	typ  reflect.Type
}

// fieldsOf lists the JSON fields of a struct type the way encoding/json
// sees them (tags, "-", embedded structs promoted).
func fieldsOf(t reflect.Type) map[string]structField {
	out := map[string]structField{}
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous && name == "" {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct && depth < 8 {
					walk(et, depth+1)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if _, ok := out[name]; !ok {
				out[name] = structField{name: name, typ: ft}
			}
		}
	}
	walk(t, 0)
	return out
}

// lookupField finds key as encoding/json does: the exact name, else a
// case-insensitive match.
func lookupField(fields map[string]structField, key string) (structField, bool) {
	if f, ok := fields[key]; ok {
		return f, true
	}
	for name, f := range fields {
		if strings.EqualFold(name, key) {
			return f, true
		}
	}
	return structField{}, false
}

func join(path, key string) string {
	k := key
	if k == "" || strings.ContainsAny(k, ".[]\"") || strings.IndexFunc(k, func(r rune) bool { return r < ' ' }) >= 0 {
		k = strconv.Quote(k)
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

func where(path string) string {
	if path == "" {
		return "(document)"
	}
	return path
}

func walkError(err error, path string) error {
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("malformed JSON at byte %d (in %s): %v", se.Offset, where(path), se)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: unexpected end of input")
	}
	return fmt.Errorf("malformed JSON (in %s): %v", where(path), err)
}
