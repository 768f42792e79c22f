package objects

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
)

// StateKey is the store key of the object tree.
const StateKey = "objects"

// stateVersion is the version of the stored document; a newer one is
// refused rather than misread.
const stateVersion = 1

// Origins of the stored server accounts.
const (
	OriginFactory   = "factory"   // built from the configuration
	OriginBootstrap = "bootstrap" // written by a bootstrap server
)

type stateMeta struct {
	Origin      string `json:"origin"`
	Fingerprint string `json:"factory_fingerprint"`
}

// stateDoc is the stored form: per object, the instances as TLV (with
// every resource, secrets included: the file is 0600 in a 0700 directory).
type stateDoc struct {
	Version int `json:"version"`
	stateMeta
	Objects map[string]string `json:"objects"`
}

// rawInstanceTLV encodes an instance with all its resources, secret or not.
func rawInstanceTLV(in *Instance) TLV {
	e := TLV{Kind: TLVObjectInstance, ID: in.ID, Children: []TLV{}}
	for _, id := range in.resourceIDs() {
		r := in.Resources[id]
		if !r.Multiple {
			e.Children = append(e.Children, TLV{Kind: TLVResource, ID: id, Value: appendTLVValue(nil, r.Value)})
			continue
		}
		m := TLV{Kind: TLVMultipleResource, ID: id, Children: []TLV{}}
		for _, ri := range r.instanceIDs() {
			m.Children = append(m.Children, TLV{Kind: TLVResourceInstance, ID: ri, Value: appendTLVValue(nil, r.Instances[ri])})
		}
		e.Children = append(e.Children, m)
	}
	return e
}

func (t *Tree) encodeStateLocked() ([]byte, error) {
	doc := stateDoc{Version: stateVersion, stateMeta: t.meta, Objects: map[string]string{}}
	for _, o := range slicesSortedKeys(t.inst) {
		if !t.defs[o].Persist {
			continue
		}
		var ts TLVs
		for _, in := range sortedInstances(t.inst[o]) {
			ts = append(ts, rawInstanceTLV(in))
		}
		b, err := ts.Append(nil)
		if err != nil {
			return nil, err
		}
		doc.Objects[fmt.Sprint(o)] = base64.StdEncoding.EncodeToString(b)
	}
	return json.Marshal(doc)
}

// persistLocked writes the persistent objects unless a bootstrap session
// is open (those writes are committed at Bootstrap-Finish only).
func (t *Tree) persistLocked() error {
	if t.st == nil || t.bs != nil {
		return nil
	}
	b, err := t.encodeStateLocked()
	if err != nil {
		t.log.Error("encode object state", "err", err)
		return err
	}
	if err := t.st.WriteState(StateKey, b); err != nil {
		t.log.Error("persist object state", "err", err)
		return err
	}
	return nil
}

// loadState reads the stored tree; (nil, nil) when nothing is stored.
func (t *Tree) loadState() (map[uint16]map[uint16]*Instance, *stateMeta, error) {
	if t.st == nil {
		return nil, nil, nil
	}
	b, err := t.st.ReadState(StateKey)
	if errors.Is(err, store.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("objects: load state: %w", err)
	}
	var doc stateDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("objects: load state: %w", err)
	}
	if doc.Version != stateVersion {
		return nil, nil, fmt.Errorf("objects: load state: version %d, this build reads %d", doc.Version, stateVersion)
	}
	out := map[uint16]map[uint16]*Instance{}
	for key, enc := range doc.Objects {
		var o uint16
		if _, err := fmt.Sscan(key, &o); err != nil {
			return nil, nil, fmt.Errorf("objects: load state: object key %q", key)
		}
		def, ok := t.defs[o]
		if !ok || !def.Persist {
			t.log.Warn("stored state has an object this build does not keep; dropped", "object", o)
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return nil, nil, fmt.Errorf("objects: load state: object %d: %w", o, err)
		}
		d, err := decodePayload(def, ObjectPath(o), FormatTLV, raw)
		if err != nil {
			return nil, nil, fmt.Errorf("objects: load state: object %d: %w", o, err)
		}
		out[o] = map[uint16]*Instance{}
		for _, in := range d.instances {
			next := &Instance{ID: in.ID, Resources: map[uint16]Resource{}}
			for _, rid := range in.resourceIDs() {
				rd, _ := def.Resource(rid)
				r, err := prepareResource(rd, in.Resources[rid])
				if err != nil {
					return nil, nil, fmt.Errorf("objects: load state: /%d/%d: %w", o, in.ID, err)
				}
				next.Set(r)
			}
			out[o][in.ID] = next
		}
	}
	return out, &doc.stateMeta, nil
}

// ResetState deletes the stored object tree: the next start runs the
// factory bootstrap from the configuration again. This is the deliberate
// reset; the daemon must not be running.
func ResetState(st store.Store) error {
	if err := st.DeleteState(StateKey); err != nil {
		return fmt.Errorf("objects: reset state: %w", err)
	}
	return nil
}
