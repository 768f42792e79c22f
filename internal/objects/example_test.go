package objects_test

import (
	"fmt"
	"time"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/objects"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/store"
)

// Example shows how an engine maps CoAP requests onto the tree: no content
// format knowledge is needed beyond passing the numbers through.
func Example() {
	tree, err := objects.New(objects.Config{
		Store: &store.Mem{},
		Factory: objects.Factory{Servers: []objects.FactoryServer{{
			ShortServerID: 101, URI: "coap://127.0.0.1:5683",
			Security: objects.FactorySecurity{Mode: objects.SecurityModeNoSec},
			Lifetime: time.Hour, Binding: "U", NotificationStoring: true,
		}}},
		Options: objects.Options{Device: objects.DeviceInfo{Manufacturer: "ACME"}},
		Hooks: objects.Hooks{
			RegistrationUpdateTrigger: func(ssid uint16) { fmt.Println("send Update to", ssid) },
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("POST /rd payload: %s\n", tree.RegistrationLinks())

	srv := objects.Server(101)
	// GET /3/0/0 without Accept.
	p, _ := objects.PathFromSegments([]string{"3", "0", "0"})
	body, cf, code := tree.Read(srv, p, objects.NoFormat)
	fmt.Printf("GET %s -> %s %s %q\n", p, code, cf, body)
	// GET /0/0 (the Security object is invisible to DM servers).
	_, _, code = tree.Read(srv, objects.InstancePath(0, 0), objects.FormatTLV)
	fmt.Println("GET /0/0 ->", code)
	// PUT /1/0/1 text/plain "300".
	code = tree.Write(srv, objects.ResourcePath(1, 0, 1), objects.WriteReplace, objects.FormatText, []byte("300"))
	fmt.Println("PUT /1/0/1 ->", code, "lifetime now", tree.Servers()[0].Lifetime)
	// POST /1/0/8 (Registration Update Trigger).
	fmt.Println("POST /1/0/8 ->", tree.Execute(srv, objects.ResourcePath(1, 0, 8), nil))
	// PUT /3/0/9?pmin=10 without payload, then GET Accept 40.
	tree.WriteAttributes(srv, objects.InstancePath(3, 0), []string{"pmin=10"})
	links, code := tree.Discover(srv, objects.ResourcePath(3, 0, 0))
	fmt.Printf("Discover /3/0/0 -> %s %s\n", code, links)
	// Output:
	// POST /rd payload: </1/0>,</2>,</3/0>
	// GET /3/0/0 -> 2.05 text "ACME"
	// GET /0/0 -> 4.04
	// PUT /1/0/1 -> 2.04 lifetime now 5m0s
	// send Update to 101
	// POST /1/0/8 -> 2.04
	// Discover /3/0/0 -> 2.05 </3/0/0>;pmin=10
}
