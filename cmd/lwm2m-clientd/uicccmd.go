package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lwm2m-clientd/lwm2m-clientd/internal/modem"
	"github.com/lwm2m-clientd/lwm2m-clientd/internal/uicc"
)

func newUICCCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "uicc",
		Short: "Talk to the SIM (UICC) through the modem",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return &usageError{errors.New("uicc: a subcommand is required (apdu)")}
		},
	}
	cmd.AddCommand(newUICCAPDUCmd())
	return cmd
}

func newUICCAPDUCmd() *cobra.Command {
	var f modemFlags
	var raw bool
	cmd := &cobra.Command{
		Use:   "apdu --port PATH HEX...",
		Short: "Send command APDUs through AT+CSIM; print each response and its status word",
		Long: `Send each command APDU (hex, ISO/IEC 7816-4 short form) to the SIM through AT+CSIM and
print the response data and the status word with its meaning. 61xx is followed by GET
RESPONSE and 6Cxx by the same command with the right Le, unless --raw. The APDUs go on the
basic channel unless their CLA says otherwise. Exit status 1 when a status word is not a
normal ending (9000, 91xx, 92xx).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cmds := make([]uicc.Command, 0, len(args))
			for _, a := range args {
				b, err := hex.DecodeString(strings.ReplaceAll(a, " ", ""))
				if err != nil {
					return &usageError{fmt.Errorf("uicc apdu: %q is not hex", a)}
				}
				c, err := uicc.DecodeCommand(b)
				if err != nil {
					return &usageError{fmt.Errorf("uicc apdu: %s: %w", a, err)}
				}
				cmds = append(cmds, c)
			}
			failed := false
			err := f.withModem(cmd, func(ctx context.Context, m *modem.Modem) error {
				card := uicc.NewCard(uicc.TransportFunc(m.CSIM), nil)
				out := cmd.OutOrStdout()
				for _, c := range cmds {
					b, _ := c.Append(nil)
					fmt.Fprintf(out, "> %X\n", b)
					var rsp uicc.Response
					var err error
					if raw {
						var rb []byte
						if rb, err = m.CSIM(ctx, b); err == nil {
							rsp, err = uicc.DecodeResponse(rb)
						}
					} else {
						rsp, err = card.Exchange(ctx, c)
					}
					if err != nil {
						return err
					}
					if len(rsp.Data) > 0 {
						fmt.Fprintf(out, "< %X\n", rsp.Data)
					}
					fmt.Fprintf(out, "< %s\n", rsp.SW)
					if !rsp.SW.OK() {
						failed = true
					}
				}
				return nil
			})
			if err == nil && failed {
				return &silentError{code: exitFail}
			}
			return err
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&raw, "raw", false, "send each APDU once: no GET RESPONSE after 61xx, no re-issue after 6Cxx")
	return cmd
}
