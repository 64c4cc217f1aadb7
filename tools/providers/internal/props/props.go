// Package props reads and compares Pulumi property maps the way the providers here need: values may be
// wrapped in secrets, may be unknown during previews, and a null value means the same as an absent one.
package props

import (
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Unwrap strips secret and known-output wrappers from the top of a value (not from values nested in it).
func Unwrap(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput() && v.OutputValue().Known:
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

// Plain strips secret wrappers at every depth. Unknown values stay unknown.
func Plain(v resource.PropertyValue) resource.PropertyValue {
	v = Unwrap(v)
	switch {
	case v.IsArray():
		in := v.ArrayValue()
		out := make([]resource.PropertyValue, len(in))
		for i, e := range in {
			out[i] = Plain(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		return resource.NewObjectProperty(PlainMap(v.ObjectValue()))
	}
	return v
}

// PlainMap is Plain for every value of a map; null values are dropped.
func PlainMap(m resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, e := range m {
		p := Plain(e)
		if p.IsNull() {
			continue
		}
		out[k] = p
	}
	return out
}

// Get returns the unwrapped value of key, and whether it is present and not null.
func Get(m resource.PropertyMap, key string) (resource.PropertyValue, bool) {
	v, ok := m[resource.PropertyKey(key)]
	if !ok {
		return resource.NewNullProperty(), false
	}
	v = Unwrap(v)
	if v.IsNull() {
		return v, false
	}
	return v, true
}

// String returns the string at key ("" and false when absent, null or not a string).
func String(m resource.PropertyMap, key string) (string, bool) {
	v, ok := Get(m, key)
	if !ok || !v.IsString() {
		return "", false
	}
	return v.StringValue(), true
}

// Bool returns the boolean at key (def when absent or not a boolean).
func Bool(m resource.PropertyMap, key string, def bool) bool {
	v, ok := Get(m, key)
	if !ok || !v.IsBool() {
		return def
	}
	return v.BoolValue()
}

// Number returns the number at key (def when absent or not a number).
func Number(m resource.PropertyMap, key string, def float64) float64 {
	v, ok := Get(m, key)
	if !ok || !v.IsNumber() {
		return def
	}
	return v.NumberValue()
}

// Strings returns the strings of the array at key (non-strings are skipped).
func Strings(m resource.PropertyMap, key string) []string {
	v, ok := Get(m, key)
	if !ok || !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		e = Unwrap(e)
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// Object returns the map at key.
func Object(m resource.PropertyMap, key string) (resource.PropertyMap, bool) {
	v, ok := Get(m, key)
	if !ok || !v.IsObject() {
		return nil, false
	}
	return v.ObjectValue(), true
}

// StringMap returns the string values of the map at key, with sorted keys.
func StringMap(m resource.PropertyMap, key string) (map[string]string, []string) {
	obj, ok := Object(m, key)
	if !ok {
		return nil, nil
	}
	out := map[string]string{}
	var keys []string
	for k, e := range obj {
		e = Unwrap(e)
		switch {
		case e.IsString():
			out[string(k)] = e.StringValue()
		case e.IsNull():
			continue
		default:
			out[string(k)] = e.String()
		}
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	return out, keys
}

// IsUnknown tells whether the value at key is, or contains, an unknown.
func IsUnknown(m resource.PropertyMap, key string) bool {
	v, ok := m[resource.PropertyKey(key)]
	return ok && v.ContainsUnknowns()
}

// Equal compares two values ignoring secretness; null and absent are the same. An unknown value is never equal.
// Assets and archives compare by their content hash.
func Equal(a, b resource.PropertyValue) bool {
	if a.ContainsUnknowns() || b.ContainsUnknowns() {
		return false
	}
	pa, pb := Plain(a), Plain(b)
	if pa.IsAsset() && pb.IsAsset() {
		return assetsEqual(pa, pb)
	}
	if pa.IsArchive() && pb.IsArchive() {
		ha, hb := pa.ArchiveValue().Hash, pb.ArchiveValue().Hash
		if ha != "" && hb != "" {
			return ha == hb
		}
	}
	return pa.DeepEquals(pb)
}

func assetsEqual(a, b resource.PropertyValue) bool {
	x, y := a.AssetValue(), b.AssetValue()
	if x.Hash != "" && y.Hash != "" {
		return x.Hash == y.Hash
	}
	return x.Path == y.Path && x.Text == y.Text && x.URI == y.URI
}

// ChangedKeys lists the keys (among only, or among all keys of both maps when only is empty) whose values differ
// between olds and news, sorted.
func ChangedKeys(olds, news resource.PropertyMap, only ...string) []string {
	keys := map[string]bool{}
	if len(only) > 0 {
		for _, k := range only {
			keys[k] = true
		}
	} else {
		for k := range olds {
			keys[string(k)] = true
		}
		for k := range news {
			keys[string(k)] = true
		}
	}
	var changed []string
	for k := range keys {
		o, oOK := olds[resource.PropertyKey(k)]
		n, nOK := news[resource.PropertyKey(k)]
		oNull := !oOK || Unwrap(o).IsNull()
		nNull := !nOK || Unwrap(n).IsNull()
		switch {
		case oNull && nNull:
			continue
		case oNull != nNull:
			changed = append(changed, k)
		case !Equal(o, n):
			changed = append(changed, k)
		}
	}
	sort.Strings(changed)
	return changed
}

// Present tells whether key has a non-null value in m (unknowns count as present).
func Present(m resource.PropertyMap, key string) bool {
	v, ok := m[resource.PropertyKey(key)]
	return ok && !Unwrap(v).IsNull()
}

// SecretIf wraps v in a secret when secret is true.
func SecretIf(secret bool, v resource.PropertyValue) resource.PropertyValue {
	if secret && !v.IsSecret() {
		return resource.MakeSecret(v)
	}
	return v
}

// Computed is an unknown value, for outputs that a preview cannot know.
func Computed() resource.PropertyValue {
	return resource.MakeComputed(resource.NewStringProperty(""))
}
