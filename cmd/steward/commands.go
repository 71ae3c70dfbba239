package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/stewardhq/steward/api"
	"github.com/stewardhq/steward/internal/backend"
	"github.com/stewardhq/steward/service"
	"github.com/stewardhq/steward/store"
)

// serviceConfig checks everything start-up checks, short of opening the
// database, and builds the service's configuration without its store:
// the commands that open the database and `config check|show` share it.
func (c *config) serviceConfig(logTo io.Writer) (service.Config, error) {
	if err := c.validate(); err != nil {
		return service.Config{}, err
	}
	log, err := c.logger(logTo)
	if err != nil {
		return service.Config{}, err
	}
	plans, flags, err := c.catalogue()
	if err != nil {
		return service.Config{}, err
	}
	issuers, err := c.trustedIssuers()
	if err != nil {
		return service.Config{}, err
	}
	sc := service.Config{Logger: log, KeyPrefix: c.KeyPrefix,
		UserKeyScopes: c.UserKeyScopes, KeyPurposes: c.KeyPurposes, Plans: plans, Flags: flags,
		SecretKey: c.SecretKey, SecretKeyPrevious: c.SecretKeyPrevious, CheckpointInterval: c.CheckpointInterval,
		HashConcurrency: c.HashConcurrency, HashQueueWait: c.HashQueueWait, TrustedIssuers: issuers,
		ImpersonationMax: c.ImpersonationMax, ImpersonationHidden: !c.ImpersonationDisclose,
		KeyUsageRetention: c.KeyUsageRetention, Webhooks: c.Webhooks, ResourceStaleAfter: c.ResourceStaleAfter,
		Models: c.fileModels, Data: c.fileData}
	// After the rest: an action's target names one of sc.Data's tables.
	sc.Actions, err = c.adminActions(sc)
	return sc, err
}

func newRootCmd(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) *cobra.Command {
	var cfg config
	root := &cobra.Command{
		Use:           "steward",
		Short:         "Steward: the back office of a multi-tenant SaaS",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	bindConfig(root, getenv, &cfg)
	// The configuration file fills what flags and variables leave unset;
	// `config check|show` read it themselves (check may name another file);
	// the version prints even beside a broken file.
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if cmd.Annotations[readsConfigItself] != "" || cmd.Name() == "version" {
			return nil
		}
		return cfg.loadConfigFile(root, getenv)
	}

	// app opens the database and builds the service the commands share.
	app := func() (*service.Service, store.Store, *slog.Logger, error) {
		sc, err := cfg.serviceConfig(stderr)
		if err != nil {
			return nil, nil, nil, err
		}
		st, err := backend.Open(ctx, cfg.DB)
		if err != nil {
			return nil, nil, nil, err
		}
		sc.Store = st
		return service.New(sc), st, sc.Logger, nil
	}

	root.AddCommand(&cobra.Command{
		Use:   "serve",
		Short: "Run the server (migrates and creates the first operator if needed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, st, log, err := app()
			if err != nil {
				return err
			}
			defer st.Close()
			// After the server has drained: the data admin's own
			// connections to the product's databases.
			defer svc.Data.Close()
			return serve(ctx, cfg, svc, st, log)
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "migrate",
		Short: "Apply database migrations and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, st, _, err := app()
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := st.MigrationVersion(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "database at migration version %d\n", v)
			return nil
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "bootstrap",
		Short: "Create the first operator (super_admin) if none exists",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			svc, st, log, err := app()
			if err != nil {
				return err
			}
			defer st.Close()
			return bootstrap(ctx, cfg, svc, log, stdout)
		},
	})
	root.AddCommand(doctorCmd(ctx, app, stdout))
	root.AddCommand(operatorCmd(ctx, app, stdout))
	root.AddCommand(configCmd(root, &cfg, getenv, stdout))
	root.Version = versionString()
	root.SetVersionTemplate("steward {{.Version}}\n")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version and the commit it was built from",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(stdout, "steward", versionString()) },
	})
	return root
}

// bootstrap creates the first operator and tells the operator how to log in.
// A generated password is printed once, to the log.
func bootstrap(ctx context.Context, cfg config, svc *service.Service, log *slog.Logger, out io.Writer) error {
	created, generated, err := svc.Bootstrap(ctx, cfg.BootstrapEmail, cfg.BootstrapPassword)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	email := cfg.BootstrapEmail
	if email == "" {
		email = service.DefaultBootstrapEmail
	}
	switch {
	case !created:
		log.Info("an operator exists already; bootstrap skipped")
	case generated != "":
		log.Warn("created the first operator with a generated password; it is shown only this once, change it after logging in",
			"email", email, "password", generated, "role", "super_admin")
	default:
		log.Info("created the first operator", "email", email, "role", "super_admin")
	}
	return nil
}

// serve runs the HTTP server until ctx ends, then drains for up to 15 s.
func serve(ctx context.Context, cfg config, svc *service.Service, st store.Store, log *slog.Logger) error {
	// Bind first: a busy port must fail before bootstrap creates the first
	// operator and prints a password that no running server would accept.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Addr, err)
	}
	defer ln.Close()
	log.Info("database", "dialect", st.Dialect(), "location", dbLocation(cfg.DB))
	if err := svc.Start(ctx); err != nil {
		return fmt.Errorf("starting: %w", err)
	}
	if err := bootstrap(ctx, cfg, svc, log, io.Discard); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(api.NewStatsCollector(svc.Overview, nil, log))
	reg.MustRegister(api.NewAuditCollector(svc.Audit, log))
	adminRate, adminBurst := cfg.adminRate()
	conns := &connCounter{}
	handler := api.NewServer(api.Deps{
		Users: svc.Users, Sessions: svc.Sessions, Audit: svc.Audit, Auth: svc.Auth, Keys: svc.Keys, Tenants: svc.Tenants, Credits: svc.Credits, Idem: svc.Idempotency, Impersonations: svc.Impersonations,
		Series: svc.Series, Stats: svc.Overview, Retention: svc.Retention, PlatformConfig: svc.PlatformConfig, UserSpending: svc.UserSpending, Features: svc.Features, Webhooks: svc.Webhooks, Resources: svc.Resources, Models: svc.Models, Actions: svc.Actions, Data: svc.Data, Ready: st.Ping, Logger: log, Metrics: reg, AdminRatePerMinute: adminRate, AdminRateBurst: adminBurst, TrustedProxies: cfg.trustedProxies,
		LongReads: cfg.longReads(),
		Health:    svc.Health, Build: cfg.buildInfo(), HTTPConnections: func() (int, int) { return conns.Open(), cfg.MaxConnections },
		KeyUsage: svc.KeyUsage,
	})
	srv := newHTTPServer(handler, cfg.httpLimits(), log)
	srv.ConnState = conns.track
	log.Info("steward listening", "url", "http://"+ln.Addr().String(), "db", st.Dialect(), "version", versionString(),
		"replica_id", cfg.ReplicaID)

	jobsDone := make(chan struct{})
	jobCtx, stopJobs := context.WithCancel(ctx)
	go func() {
		defer close(jobsDone)
		var loops sync.WaitGroup
		loops.Go(func() { svc.Webhooks.RunDeliverer(jobCtx, cfg.ReplicaID) }) // docs/webhooks.md
		loops.Go(func() { svc.Audit.RunSealer(jobCtx) })                      // docs/audit-log.md#sealing
		maintain(jobCtx, svc, log)
		loops.Wait()
	}()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(limitListener(ln, cfg.httpLimits())) }()
	select {
	case err := <-errc:
		stopJobs()
		<-jobsDone
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	stopJobs()
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	<-jobsDone
	// Requests are done: write the last key uses before the process ends.
	if ferr := svc.Keys.FlushKeyUses(shutCtx); ferr != nil {
		log.Error("flushing key uses", "err", ferr)
	}
	if ferr := svc.KeyUsage.FlushKeyUsage(shutCtx); ferr != nil {
		log.Error("flushing key usage counts", "err", ferr)
	}
	if ferr := svc.Series.FlushActivity(shutCtx); ferr != nil {
		log.Error("flushing activity", "err", ferr)
	}
	svc.Audit.SealNow(shutCtx) // the drained requests' entries, rather than leave them to another replica
	return err
}

// maintain runs the periodic jobs: the ban sweeper, key rotation, the
// idempotency purge and the audit checkpoint (signed when due) once a
// minute, and the key-use flush every few seconds.
func maintain(ctx context.Context, svc *service.Service, log *slog.Logger) {
	minute := time.NewTicker(time.Minute)
	defer minute.Stop()
	flush := time.NewTicker(service.KeyUseFlushInterval)
	defer flush.Stop()
	run := func(what string, job func(context.Context) error) {
		if err := job(ctx); err != nil && ctx.Err() == nil {
			log.Error(what, "err", err)
		}
	}
	// Each job's run is recorded for the detailed health report (Maintain
	// records its sweeps itself). Checkpoints go after the key rotation,
	// so they sign with the current key.
	recorded := func(name string, job func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error { return svc.Health.RunJob(ctx, name, job) }
	}
	checkpoint := recorded(service.JobAuditCheckpoint, func(ctx context.Context) error {
		_, err := svc.Audit.CheckpointIfDue(ctx)
		return err
	})
	flushKeyUses := recorded(service.JobKeyUseFlush, svc.Keys.FlushKeyUses)
	flushKeyUsage := recorded(service.JobKeyUsageFlush, svc.KeyUsage.FlushKeyUsage)
	flushActivity := recorded(service.JobActivityFlush, svc.Series.FlushActivity)
	run("maintenance", svc.Maintain)
	run("audit checkpoint", checkpoint)
	for {
		select {
		case <-ctx.Done():
			return
		case <-minute.C:
			run("maintenance", svc.Maintain)
			run("audit checkpoint", checkpoint)
		case <-flush.C:
			run("flushing key uses", flushKeyUses)
			run("flushing key usage counts", flushKeyUsage)
			run("flushing activity", flushActivity)
		}
	}
}
