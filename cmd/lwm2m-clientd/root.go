package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "lwm2m-clientd",
		Short:         "LwM2M 1.0 client daemon for cellular gateways, with the SMS binding",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown command %q; see lwm2m-clientd --help", args[0])}
			}
			_ = cmd.Help()
			return &silentError{code: exitUsage}
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.CompletionOptions.DisableDefaultCmd = true
	// Every flag or argument mistake is a usage error (exit 2).
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(
		newVersionCmd(),
		newConfigCmd(),
		newRunCmd(),
		newSMSCmd(),
		newSecuredPacketCmd(),
		newUICCCmd(),
		newModemCmd(),
		newEmulatorCmd(),
		newStatusCmd(),
		newDemoCmd(),
	)
	wrapArgs(root)
	return root
}

// wrapArgs makes cobra's positional-argument checks report usage errors.
func wrapArgs(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return &usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}
