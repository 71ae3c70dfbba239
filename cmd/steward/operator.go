package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// operatorCmd is the host-side break-glass: commands that act on the
// database directly, for when no operator can sign in. Both write an audit
// entry whose actor is system/cli.
func operatorCmd(ctx context.Context, app func() (*service.Service, store.Store, *slog.Logger, error), stdout io.Writer) *cobra.Command {
	op := &cobra.Command{
		Use:   "operator",
		Short: "Break-glass commands run on the host: reset a password, lift login throttles",
	}
	var generate bool
	reset := &cobra.Command{
		Use:   "reset-password EMAIL",
		Short: "Set a new password (read from the first line of stdin, or generated and printed), end the account's sessions and lift its login throttles",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw := ""
			if !generate {
				line, err := bufio.NewReaderSize(io.LimitReader(cmd.InOrStdin(), 4096), 4096).ReadString('\n')
				if err != nil && err != io.EOF {
					return fmt.Errorf("reading the new password from stdin: %w", err)
				}
				pw = strings.TrimRight(line, "\r\n")
			}
			svc, st, _, err := app()
			if err != nil {
				return err
			}
			defer st.Close()
			u, generated, err := svc.Users.OperatorResetPassword(ctx, args[0], pw)
			if err != nil {
				return fmt.Errorf("reset-password: %w%s", err, fieldProblems(err))
			}
			fmt.Fprintf(stdout, "password of %s (%s) reset; its sessions are ended and its login throttles lifted\n", u.Email, u.ID)
			if generated != "" {
				fmt.Fprintf(stdout, "new password (shown once): %s\n", generated)
			}
			return nil
		},
	}
	reset.Flags().BoolVar(&generate, "generate", false, "generate the password instead of reading stdin (an empty stdin generates too)")
	op.AddCommand(reset)
	op.AddCommand(&cobra.Command{
		Use:   "unlock EMAIL",
		Short: "Lift every login throttle on the account, on every server sharing the database",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, st, _, err := app()
			if err != nil {
				return err
			}
			defer st.Close()
			u, err := svc.Users.OperatorUnlock(ctx, args[0])
			if err != nil {
				return fmt.Errorf("unlock: %w%s", err, fieldProblems(err))
			}
			fmt.Fprintf(stdout, "login throttles on %s (%s) lifted\n", u.Email, u.ID)
			return nil
		},
	})
	return op
}

// fieldProblems spells out a validation error's fields for the terminal.
func fieldProblems(err error) string {
	var e *steward.Error
	if !errors.As(err, &e) {
		return ""
	}
	fields, _ := e.Details["fields"].(map[string]any)
	var parts []string
	for f, msg := range fields {
		parts = append(parts, fmt.Sprintf("%s %v", f, msg))
	}
	if len(parts) == 0 {
		return ""
	}
	sort.Strings(parts)
	return " (" + strings.Join(parts, "; ") + ")"
}
