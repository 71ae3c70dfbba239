package main

import (
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// readsConfigItself marks a command the root's pre-run leaves the
// configuration file to.
const readsConfigItself = "reads-config-itself"

// configCmd is `steward config check [file]` and `steward config show`.
func configCmd(root *cobra.Command, cfg *config, getenv func(string) string, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check the settings or show where each comes from"}
	self := map[string]string{readsConfigItself: "yes"}
	// settle reads the file and checks everything start-up would check,
	// short of opening the database.
	settle := func() error {
		if err := cfg.loadConfigFile(root, getenv); err != nil {
			return err
		}
		_, err := cfg.serviceConfig(io.Discard)
		return err
	}
	cmd.AddCommand(&cobra.Command{
		Use:         "check [file]",
		Short:       "Validate the configuration file (default STEWARD_CONFIG / --config) with the flags and variables, without starting",
		Args:        cobra.MaximumNArgs(1),
		Annotations: self,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				cfg.ConfigFile = args[0]
			}
			if err := settle(); err != nil {
				return err
			}
			if cfg.ConfigFile == "" {
				fmt.Fprintln(stdout, "configuration ok (no configuration file)")
			} else {
				fmt.Fprintf(stdout, "configuration ok: %s\n", cfg.ConfigFile)
			}
			return nil
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:         "show",
		Short:       "Print the effective settings and where each came from (flag, env, file or default); secrets are masked",
		Args:        cobra.NoArgs,
		Annotations: self,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := settle(); err != nil {
				return err
			}
			return cfg.show(root.PersistentFlags(), stdout)
		},
	})
	return cmd
}

var dsnPasswordRe = regexp.MustCompile(`(?i)(password=)('[^']*'|\S+)`)

// show prints one line per setting: key, value, source. Secrets print as
// "(set)"; a database URL's password is masked.
func (c *config) show(flags *pflag.FlagSet, w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// The file itself comes from a flag or a variable, never from a file.
	file, source := c.ConfigFile, sourceDefault
	switch {
	case flags.Changed("config"):
		source = sourceFlag
	case file != "":
		source = sourceEnv
	default:
		file = "(none)"
	}
	fmt.Fprintf(tw, "config\t%s\t%s\n", file, source)
	values := map[string]string{}
	flags.VisitAll(func(f *pflag.Flag) {
		if notFileKeys[f.Name] {
			return
		}
		v := f.Value.String()
		if f.Name == "db" {
			v = maskDSN(v)
		}
		values[fileKey(f.Name)] = v
	})
	for _, k := range secretKeys {
		values[k] = ""
		if c.sources[k] != sourceDefault {
			values[k] = "(set)"
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", k, values[k], c.sources[k])
	}
	if len(c.filePlans) > 0 {
		ids := make([]string, len(c.filePlans))
		for i, p := range c.filePlans {
			ids[i] = p.ID
		}
		fmt.Fprintf(tw, "[[plans]]\t%s\t%s\n", strings.Join(ids, ","), sourceFile)
	}
	if len(c.fileFlagDefs) > 0 {
		keys := make([]string, len(c.fileFlagDefs))
		for i, f := range c.fileFlagDefs {
			keys[i] = f.Key
		}
		fmt.Fprintf(tw, "[[flags]]\t%s\t%s\n", strings.Join(keys, ","), sourceFile)
	}
	if len(c.fileModels) > 0 {
		fmt.Fprintf(tw, "[[models]]\t%s\t%s\n", modelIDs(c.fileModels), sourceFile)
	}
	if sources, tables := dataSummary(c.fileData); sources != "" || tables != "" {
		fmt.Fprintf(tw, "[data.sources]\t%s\t%s\n[[data.tables]]\t%s\t%s\n", sources, sourceFile, tables, sourceFile)
	}
	c.showActions(tw)
	return tw.Flush()
}

// maskDSN hides a password in a postgres:// URL or key=value DSN.
func maskDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return dsnPasswordRe.ReplaceAllString(dsn, "${1}xxxxx")
}
