package objects

// aclRight is a bit of Access Control resource 2 (LwM2M-TS 1.0 §7.3.1;
// lwm2m.md §4): bit0 R (Read, Observe, Discover, Write-Attributes), bit1 W,
// bit2 E, bit3 D, bit4 C.
type aclRight int64

const (
	aclRead    aclRight = 1 << 0
	aclWrite   aclRight = 1 << 1
	aclExecute aclRight = 1 << 2
	aclDelete  aclRight = 1 << 3
	aclCreate  aclRight = 1 << 4
	aclAll              = aclRead | aclWrite | aclExecute | aclDelete
)

// allowedLocked applies Access Control for a DM server (LwM2M-TS 1.0
// §7.3.1). With a single server account the object may be absent and that
// server has every right; with more than one, an instance without an Access
// Control instance is reachable by no server. Bootstrap and internal
// callers are not subject to ACLs.
func (t *Tree) allowedLocked(c Caller, o, i uint16, right aclRight) bool {
	if c.Kind != CallerServer {
		return true
	}
	if t.serverCountLocked() <= 1 {
		return true
	}
	if o == AccessControlObjectID && right == aclRead {
		// Every server may read the ACLs that concern it; reading them
		// is what lets a server know its rights.
		return true
	}
	if o == AccessControlObjectID && right == aclWrite {
		// Only the owner manages an Access Control instance (§7.3.1.1);
		// owner 65535 means bootstrap only.
		in, ok := t.inst[o][i]
		return ok && in.Int(3, MaxID) == int64(c.ShortServerID)
	}
	aco, ok := t.aclForLocked(o, i)
	if !ok {
		return false
	}
	return aclGrants(aco, c.ShortServerID, right)
}

func aclGrants(aco *Instance, ssid uint16, right aclRight) bool {
	acl, hasACL := aco.Resources[2]
	if hasACL {
		if v, ok := acl.Instances[ssid]; ok {
			return aclRight(v.Int())&right == right
		}
	}
	if aco.Int(3, MaxID) == int64(ssid) {
		// The owner without its own ACL entry has every right but
		// Create (§7.3.1.1).
		return aclAll&right == right
	}
	if hasACL {
		if v, ok := acl.Instances[0]; ok { // default rights
			return aclRight(v.Int())&right == right
		}
	}
	return false
}

// aclForLocked finds the Access Control instance protecting /o/i (i =
// MaxID: the object itself, which carries the Create right).
func (t *Tree) aclForLocked(o, i uint16) (*Instance, bool) {
	for _, in := range sortedInstances(t.inst[AccessControlObjectID]) {
		if in.Int(0, -1) == int64(o) && in.Int(1, -1) == int64(i) {
			return in, true
		}
	}
	return nil, false
}
