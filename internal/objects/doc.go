// Package objects owns the LwM2M 1.0 object model of the client: object
// and resource definitions, instances and typed values, the operations
// with their LwM2M semantics and response codes, the access rules, the
// standard objects 0 Security, 1 Server, 2 Access Control, 3 Device and
// 4 Connectivity Monitoring, the factory bootstrap, and the content
// formats TLV (11542), plain text (0), opaque (42), LwM2M JSON (11543) and
// CoRE link format (40). It imports internal/store (persistence) and no
// other project package; it must not import config, the engine, or any
// transport. The codecs (DecodeTLV, DecodeJSON, DecodeLinks and their
// Append methods) are pure functions over []byte.
//
// # Engine API (internal/lwm2m maps CoAP onto these; no format knowledge needed)
//
//	t, err := objects.New(objects.Config{Store, Logger, Now, Hooks, Modem, Options, Factory})
//	p, err := objects.PathFromSegments(req.URIPath)        // 4.00 on error
//	c := objects.Server(ssid) / objects.Bootstrap / objects.Internal
//
//	GET (Accept ≠ 40)       body, cf, code := t.Read(c, p, accept)          // NoFormat when no Accept
//	GET Accept 40           body, code := t.Discover(c, p)                   // cf 40
//	PUT with payload        code := t.Write(c, p, objects.WriteReplace, cf, body)
//	PUT without payload     code := t.WriteAttributes(c, p, uriQueries)
//	POST /O                 newPath, code := t.Create(c, p, cf, body)        // Location-Path = newPath.Segments()
//	POST /O/I               code := t.Write(c, p, objects.WriteUpdate, cf, body)
//	POST /O/I/R             code := t.Execute(c, p, body)
//	DELETE                  code := t.Delete(c, p)
//	Bootstrap: t.BootstrapBegin(); Write/Delete/Discover with objects.Bootstrap;
//	           POST /bs → t.BootstrapFinish() (4.06 if inconsistent); on failure t.BootstrapAbort().
//	Register/Update payload: t.RegistrationLinks() (cf 40); accounts: t.Servers(), t.BootstrapServer().
//	Observe: t.Read for the payload, t.Value(p) (a Resource) for gt/lt/st,
//	         t.EffectiveAttributes(ssid, p) for pmin/pmax/gt/lt/st;
//	         t.ForgetAttributes(ssid) on a new registration.
//	Live data: the daemon implements ModemInfo and calls t.NotifyChanged(p) when it
//	         changes, t.RaiseError/ClearErrors for Device resource 11.
//
// Codes are CoAP codes (Code, e.g. Content = 2.05) returned as values; the
// engine copies them into the response. ContentFormat numbers are CoAP's;
// the pre-1.0 numbers 1541–1544 are accepted on input (Canonical) and a
// Read asked in a legacy number answers in that number.
//
// Hooks: RegistrationUpdateTrigger (/1/x/8), Disable (/1/x/4), Reboot
// (/3/0/4), FactoryReset (/3/0/5) and OnChange (instances created or
// deleted, values changed — the engine sends Update for created/deleted
// instances outside /0 and for Server lifetime/binding changes, and drives
// observations from value changes). Hooks run after the operation, without
// the tree lock; they must not block.
//
// # Access rules
//
//   - The Security object (0) is invisible to DM servers: every operation
//     on /0… by a server answers 4.04, and /0 is never in the
//     registration payload (LwM2M-TS 1.0 App. E.1, §5.3.1).
//   - Secret resources — Security 5 (PSK / private key) and 8 (SMS binding
//     secret keys) — are never readable by anyone: a Read of them answers
//     4.01, reads of their instance or object leave them out, Discover
//     never carries values. Their values are marked secret and print as
//     "[redacted]" (Value.String, LogValue); key material reaches the
//     daemon only as Secret through Servers()/BootstrapServer().
//   - Only the bootstrap caller writes or deletes the Security object; it
//     cannot Read, Execute or Create (LwM2M 1.0 has no Bootstrap-Read).
//   - With more than one DM server account (Security instances that are
//     not the bootstrap account; a DM server cannot create those, so it
//     cannot switch modes by creating a Server instance), Access Control
//     (object 2) applies to DM servers (§7.3.1): an instance without an Access Control
//     instance is reachable by no server; the ACL entry for the server,
//     else the owner's full rights (R, W, E, D), else the default entry
//     (instance 0) decide; Create needs the C bit on the (object, 65535)
//     instance, and the created instance gets an Access Control instance
//     owned by its creator. Every server may read Access Control
//     instances; only an instance's owner writes it, and only the
//     bootstrap path creates or deletes them. With one server there is no
//     ACL check.
//
// # Configuration and stored state
//
// The tree stores Security, Server, Access Control and the writable Device
// resources under the store key "objects" after every change (a bootstrap
// session stores only at Bootstrap-Finish). New decides between the
// configuration (Config.Factory) and the stored state:
//
//   - no stored state: the factory bootstrap builds the accounts from the
//     configuration (origin "factory");
//   - origin "factory", configuration servers unchanged: stored state
//     (keeps what DM servers wrote, e.g. a lifetime);
//   - origin "factory", configuration servers changed: rebuilt from the
//     configuration, logged at warn;
//   - origin "bootstrap" (a bootstrap server wrote the configuration):
//     the stored state is the truth and configuration servers are ignored;
//     ResetState (the deliberate reset) deletes it so the next start uses
//     the configuration again.
//
// # Factory input from the configuration (for internal/daemon)
//
// objects does not import config; the daemon copies the values:
//
//	config.Server.ShortServerID, URI, Lifetime, Binding  → FactoryServer fields
//	config.Server.NotificationStoring (nil: true)        → FactoryServer.NotificationStoring
//	config.Server.DefaultPmin/DefaultPmax (0: absent)    → FactoryServer.DefaultPmin/DefaultPmax
//	security.mode psk / nosec                            → FactorySecurity.Mode SecurityModePSK / SecurityModeNoSec
//	security.psk_identity, psk_key                       → FactorySecurity.PSKIdentity, PSK (NewSecret)
//	sms.number                                           → FactorySMS.Number (a leading "+" is dropped)
//	sms.security_mode dtls / secure-packet / nosec       → FactorySMS.SecurityMode 1 / 2 / 3
//	mode 2: kic‖kid‖spi‖tar (7 bytes)                    → FactorySMS.KeyParameters (resource 7)
//	mode 2: kic_key‖kid_key (16/32/48 bytes)             → FactorySMS.SecretKey (resource 8)
//	mode 1, psk_source sms: psk_identity, psk_key        → KeyParameters, SecretKey (resources 7, 8; as Anjay)
//	mode 1, psk_source udp                               → leave 7/8 unset: resources 3/5 are used
//	config.Bootstrap URI, Security, HoldOff              → FactoryBootstrap
//	config.Device manufacturer/model/serial/firmware     → Options.Device (DeviceInfo)
//
// New validates every value as a bootstrap write would (ranges, bindings,
// the reserved SMS security modes, key lengths) and the accounts as
// Bootstrap-Finish would, and fails with the reason.
//
// The Device object's identity (manufacturer, model, serial, firmware)
// always comes from the configuration (DeviceInfo), falling back to the
// modem (ModemInfo). Values a server wrote (UTC offset, timezone) are
// stored and win over the computed defaults; a written Current Time
// becomes an offset from the clock, kept in memory (the daemon never sets
// the system clock). Attributes (Write-Attributes) live in memory only.
package objects
