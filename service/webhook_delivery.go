package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// Delivery tuning (docs/webhooks.md#delivery).
const (
	// WebhookTimeout bounds one attempt: connecting, sending and reading
	// the answer.
	WebhookTimeout = 10 * time.Second
	// webhookLease is how long a replica holds an endpoint it sends to
	// without renewing: longer than an attempt, so a live sender keeps it;
	// a dead one's endpoints are taken over when it runs out.
	webhookLease = time.Minute
	// webhookClaim is how many endpoints one round leases.
	webhookClaim = 20
	// webhookRoundEvents is how many events one endpoint gets per round
	// before its lease is given back (fairness between replicas).
	webhookRoundEvents = 100
	// webhookExcerpt is how much of an answer the delivery log keeps.
	webhookExcerpt = 1024
)

// WebhookRetries are the waits before each retry of a failed event:
// fourteen retries over about three days (75h40m, before jitter of ±20%).
// The endpoint is disabled when the last fails: WebhookMaxAttempts failed
// attempts of one event in a row.
var WebhookRetries = []time.Duration{5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute,
	30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour,
	12 * time.Hour, 12 * time.Hour, 12 * time.Hour, 12 * time.Hour, 12 * time.Hour}

// WebhookMaxAttempts is how many attempts one event gets.
var WebhookMaxAttempts = len(WebhookRetries) + 1

// newWebhooks builds the webhook service and its HTTP client.
func newWebhooks(c *core) *Webhooks {
	s := &Webhooks{core: c, lookup: c.cfg.Webhooks.Resolve}
	if s.lookup == nil {
		s.lookup = net.DefaultResolver.LookupNetIP
	}
	s.client = &http.Client{
		Timeout: WebhookTimeout,
		Transport: &http.Transport{
			Proxy:                 nil, // a proxy would dial for us, past the address check
			DialContext:           s.dial,
			TLSHandshakeTimeout:   WebhookTimeout,
			ResponseHeaderTimeout: WebhookTimeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
		},
		// A redirect is a failed attempt: following it would send the
		// event somewhere the operator did not choose.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// dial resolves the receiver's host, refuses it if any address is not
// allowed, and connects to a checked address, so what is dialled is what
// was checked (DNS rebinding cannot slip a private address in between).
// The dialer's Control checks the connected address once more.
func (s *Webhooks) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	policy := s.cfg.Webhooks
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if addrs, err = s.lookup(ctx, "ip", host); err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s has no address", host)
	}
	for _, a := range addrs {
		if why := policy.refuse(a); why != "" {
			return nil, fmt.Errorf("refused: %s resolves to %s, which %s", host, a, why)
		}
	}
	d := &net.Dialer{Timeout: WebhookTimeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		if why := policy.refuse(ap.Addr()); why != "" {
			return fmt.Errorf("refused: %s %s", ap.Addr(), why)
		}
		return nil
	}}
	var last error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// RunDeliverer delivers due events until ctx ends: rounds back to back
// while there is a backlog, then one a second; owner names this replica in
// the endpoints' leases. Deliveries run here, never in the request that
// wrote the event.
func (s *Webhooks) RunDeliverer(ctx context.Context, owner string) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		n, err := s.DeliverDue(ctx, owner)
		if err != nil && ctx.Err() == nil {
			s.log.Error("webhook delivery", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DeliverDue runs one round: it leases the endpoints with a due event and
// sends each its events in order, and says how many attempts it made.
func (s *Webhooks) DeliverDue(ctx context.Context, owner string) (int, error) {
	// On PostgreSQL events get their seqs from the sequencer: with some
	// waiting, seal first, so a round sees them even where no sealer runs.
	if p, err := s.store.AuditPending(ctx); err != nil {
		return 0, err
	} else if p.Events > 0 {
		s.sealForRead(ctx)
	}
	now := s.now()
	var claimed []*steward.WebhookEndpoint
	err := s.update(ctx, func(tx store.Tx) (err error) {
		claimed, err = tx.ClaimWebhookEndpoints(ctx, owner, now, now.Add(webhookLease), webhookClaim)
		return err
	})
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent int
	var errs []error
	for _, e := range claimed {
		wg.Go(func() {
			n, err := s.deliverEndpoint(ctx, owner, e)
			mu.Lock()
			defer mu.Unlock()
			sent += n
			errs = append(errs, err)
		})
	}
	wg.Wait()
	return sent, errors.Join(errs...)
}

// errLeaseLost: another replica took the endpoint over (this one was too
// slow); what this one sent stays at least once.
var errLeaseLost = errors.New("webhook endpoint lease lost")

// deliverEndpoint sends e's events in seq order until one fails, none is
// left, or the round's share is spent, then gives the lease back. The
// outcomes of consecutive sends are recorded together, in one transaction
// per batch (webhookBatchSends sends or webhookBatchTime, whichever
// first): a crash before it commits re-sends the batch with the same
// webhook-ids, which receivers drop; a lost lease records nothing and
// stops; a failure ends the batch. When ctx ends (the replica stops) what
// was sent is still recorded, so a stop re-sends at most the attempt it
// cut off.
func (s *Webhooks) deliverEndpoint(ctx context.Context, owner string, e *steward.WebhookEndpoint) (sent int, err error) {
	defer func() {
		rerr := s.settle(ctx, owner, e.ID, func(tx store.Tx, cur *steward.WebhookEndpoint) error {
			cur.LeaseOwner, cur.LeaseUntil = "", nil
			return nil
		})
		if !errors.Is(rerr, errLeaseLost) {
			err = errors.Join(err, rerr)
		}
	}()
	b := &webhookBatch{from: e.AfterSeq, start: s.now()}
	// record records b (and failed's retry, if given) and starts the next
	// batch; stop says the round ends.
	record := func(failed *steward.WebhookEvent) (stop bool, err error) {
		stop, err = s.recordBatch(context.WithoutCancel(ctx), owner, e, b, failed)
		b = &webhookBatch{from: e.AfterSeq, start: s.now()}
		return stop || err != nil, ignoreLost(err)
	}
	defer func() {
		if e.AfterSeq != b.from || len(b.sent) > 0 {
			_, rerr := record(nil)
			err = errors.Join(err, rerr)
		}
	}()
	for sent < webhookRoundEvents {
		evs, err := s.store.ListWebhookEvents(ctx, e.AfterSeq, webhookRoundEvents)
		if err != nil || len(evs) == 0 {
			return sent, err
		}
		for _, ev := range evs {
			if ev.Seq <= e.AfterSeq || !subscribes(e, ev.Type, ev.TenantID) || replaySkips(e, ev.Seq) {
				advance(e, max(e.AfterSeq, ev.Seq)) // not for e: move past it
				continue
			}
			d := s.send(ctx, e, &ev, e.Attempts+1)
			sent++
			if !d.Succeeded {
				if ctx.Err() != nil {
					return sent, nil // cut off by the stop, not the receiver's failure
				}
				b.sent = append(b.sent, d)
				_, err := record(&ev)
				return sent, err
			}
			b.sent = append(b.sent, d)
			advance(e, ev.Seq)
			e.Attempts = 0
			if len(b.sent) >= webhookBatchSends || s.now().Sub(b.start) >= webhookBatchTime || sent >= webhookRoundEvents {
				if stop, err := record(nil); stop || sent >= webhookRoundEvents {
					return sent, err
				}
			}
		}
		// A long run of events not for e is recorded as it goes too, so
		// the lease is renewed and the progress kept.
		if e.AfterSeq != b.from && s.now().Sub(b.start) >= webhookBatchTime {
			if stop, err := record(nil); stop {
				return sent, err
			}
		}
	}
	return sent, nil
}

// Batching of delivery outcomes (see deliverEndpoint).
const (
	webhookBatchSends = 50
	webhookBatchTime  = 250 * time.Millisecond
)

// webhookBatch is what a replica has sent to one endpoint since it last
// recorded: the cursor it started from and the attempts.
type webhookBatch struct {
	from  int64
	start time.Time
	sent  []*steward.WebhookDelivery
}

// recordBatch records b's attempts and e's cursor in one transaction, if
// this replica still holds the lease (errLeaseLost, nothing recorded,
// otherwise). failed is the event whose attempt, the batch's last, failed:
// its retry is scheduled, or the endpoint disabled. stop says the round
// must end: an operator's replay moved the cursor meanwhile (the attempts
// are logged, the cursor left where the replay put it), or the endpoint was
// disabled.
func (s *Webhooks) recordBatch(ctx context.Context, owner string, e *steward.WebhookEndpoint, b *webhookBatch, failed *steward.WebhookEvent) (stop bool, err error) {
	err = s.settle(ctx, owner, e.ID, func(tx store.Tx, cur *steward.WebhookEndpoint) error {
		for _, d := range b.sent {
			if err := tx.InsertWebhookDelivery(ctx, d); err != nil {
				return err
			}
		}
		if cur.AfterSeq != b.from {
			stop = true
			return nil
		}
		if failed != nil {
			advance(e, failed.Seq-1) // the events before it were not for e, or were sent
		}
		cur.AfterSeq, cur.ReplayToSeq, cur.ReplayResumeSeq = e.AfterSeq, e.ReplayToSeq, e.ReplayResumeSeq
		if failed == nil {
			cur.Attempts, cur.NextAttemptAt = 0, nil
			until := s.now().Add(webhookLease)
			cur.LeaseUntil = &until
			return nil
		}
		stop = true
		cur.Attempts = e.Attempts + 1
		if cur.Attempts >= WebhookMaxAttempts {
			cur.Enabled, cur.Attempts, cur.NextAttemptAt = false, 0, nil
			cur.DisabledReason = fmt.Sprintf("%d failed attempts in a row to deliver %s", WebhookMaxAttempts, failed.ID)
			return s.audit(steward.WithActor(ctx, steward.SystemActor), tx, event{Action: "webhook.disable",
				TargetType: "webhook", TargetID: cur.ID, TenantID: cur.TenantID, Reason: cur.DisabledReason,
				Metadata: map[string]any{"event_id": failed.ID, "attempts": WebhookMaxAttempts}})
		}
		next := s.now().Add(jitter(WebhookRetries[cur.Attempts-1]))
		cur.NextAttemptAt = &next
		return nil
	})
	return stop, err
}

func ignoreLost(err error) error {
	if errors.Is(err, errLeaseLost) {
		return nil
	}
	return err
}

// jitter spreads a wait by ±20%, so endpoints that failed together do not
// retry together.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

// settle changes the endpoint's delivery state in a transaction, if this
// replica still holds its lease (errLeaseLost otherwise, or when the
// endpoint was deleted). It starts from the stored row, so what an
// operator changed meanwhile is kept.
func (s *Webhooks) settle(ctx context.Context, owner, wid string, fn func(tx store.Tx, cur *steward.WebhookEndpoint) error) error {
	return s.update(ctx, func(tx store.Tx) error {
		cur, err := tx.GetWebhookEndpoint(ctx, wid)
		if errors.Is(err, store.ErrNotFound) {
			return errLeaseLost
		}
		if err != nil {
			return err
		}
		if cur.LeaseOwner != owner {
			return errLeaseLost
		}
		if err := fn(tx, cur); err != nil {
			return err
		}
		return tx.UpdateWebhookEndpoint(ctx, cur)
	})
}

// signature is the webhook-signature header: v1 with the current secret,
// and with the previous one while it still signs.
func (s *Webhooks) signature(e *steward.WebhookEndpoint, msgID string, at time.Time, body []byte) (string, error) {
	e, err := s.openWebhookSecrets(e)
	if err != nil {
		return "", err
	}
	secrets := []string{e.SigningSecret}
	if e.PreviousSecret != "" && e.PreviousSecretUntil != nil && at.Before(*e.PreviousSecretUntil) {
		secrets = append(secrets, e.PreviousSecret)
	}
	return signWith(secrets, msgID, at, body)
}

// signWith signs per Standard Webhooks with each secret, space-separated
// (webhooks and custom admin actions share it).
func signWith(secrets []string, msgID string, at time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, secret := range secrets {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			return "", err
		}
		sig, err := wh.Sign(msgID, at, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// send makes one attempt and describes it for the delivery log. A 2xx
// answer is success; anything else, or no answer, is a failure.
func (s *Webhooks) send(ctx context.Context, e *steward.WebhookEndpoint, ev *steward.WebhookEvent, attempt int) *steward.WebhookDelivery {
	now := s.now()
	d := &steward.WebhookDelivery{ID: id.New("dlv", now), EndpointID: e.ID, EventID: ev.ID, EventSeq: ev.Seq,
		EventType: ev.Type, Attempt: attempt, CreatedAt: now}
	sig, err := s.signature(e, ev.ID, now, ev.Payload)
	if err != nil {
		d.Error = "signing: " + err.Error()
		return d
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(ev.Payload))
	if err != nil {
		d.Error = err.Error()
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Steward-Webhooks/1")
	req.Header.Set(standardwebhooks.HeaderWebhookID, ev.ID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		d.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
		d.Error = err.Error()
		return d
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, webhookExcerpt))
	d.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	d.HTTPStatus, d.Response = resp.StatusCode, strings.ToValidUTF8(string(excerpt), "\uFFFD")
	d.Succeeded = resp.StatusCode >= 200 && resp.StatusCode < 300
	if !d.Succeeded {
		d.Error = "answered " + resp.Status
	}
	return d
}

// subscribes says whether e receives events of type typ for tenantID.
func subscribes(e *steward.WebhookEndpoint, typ, tenantID string) bool {
	if e.TenantID != "" && e.TenantID != tenantID {
		return false
	}
	noun := strings.SplitN(typ, ".", 2)[0]
	for _, p := range e.EventTypes {
		if p == "*" || p == typ || p == noun+".*" {
			return true
		}
	}
	return false
}

// ListWebhookDeliveries pages an endpoint's delivery log, newest first.
func (s *Webhooks) ListWebhookDeliveries(ctx context.Context, wid string, p steward.ListParams) (*steward.Page[*steward.WebhookDelivery], error) {
	if _, err := authorize(ctx, steward.PermConfigRead); err != nil {
		return nil, err
	}
	limit, before, err := keyset(p)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.GetWebhookEndpoint(ctx, wid); err != nil {
		return nil, notFound(err, "webhook", wid)
	}
	rows, err := s.store.ListWebhookDeliveries(ctx, wid, before, limit+1)
	if err != nil {
		return nil, err
	}
	return page(rows, limit, func(d *steward.WebhookDelivery) string { return encodeCursor(d.ID) }), nil
}

// RetryWebhookDelivery sends a logged delivery's event to its endpoint
// again, now, outside the endpoint's order (an operator's explicit act),
// and returns the new attempt's log row. The admin request waits for it,
// at most WebhookTimeout; the receiver's address is checked as always.
func (s *Webhooks) RetryWebhookDelivery(ctx context.Context, did string) (*steward.WebhookDelivery, error) {
	if _, err := authorize(ctx, steward.PermConfigWrite); err != nil {
		return nil, err
	}
	prev, err := s.store.GetWebhookDelivery(ctx, did)
	if err != nil {
		return nil, notFound(err, "delivery", did)
	}
	wid := prev.EndpointID
	e, err := s.store.GetWebhookEndpoint(ctx, wid)
	if err != nil {
		return nil, notFound(err, "webhook", wid)
	}
	evs, err := s.store.ListWebhookEvents(ctx, prev.EventSeq-1, 1)
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 || evs[0].ID != prev.EventID {
		return nil, steward.Errorf(steward.CodeInvalidState, "event %s is no longer kept (webhook_deliveries retention)", prev.EventID)
	}
	d := s.send(ctx, e, &evs[0], prev.Attempt+1)
	err = s.update(ctx, func(tx store.Tx) error {
		if err := tx.InsertWebhookDelivery(ctx, d); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "webhook.retry", TargetType: "webhook", TargetID: wid, TenantID: e.TenantID,
			Metadata: map[string]any{"delivery_id": did, "event_id": prev.EventID, "new_delivery_id": d.ID, "succeeded": d.Succeeded}})
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// ReplayWebhook sends the endpoint again every event it subscribes to
// written from since to until (zero: now), in order, by the deliverer
// (this returns at once): the endpoint's cursor moves back to since and,
// past until, jumps to where it had got to, so what it was sent after the
// range is not sent again. Events keep their webhook-id, so a receiver
// that kept them can tell. A replay replaces one still running.
func (s *Webhooks) ReplayWebhook(ctx context.Context, wid string, since, until time.Time) (*steward.WebhookEndpoint, error) {
	if _, err := authorize(ctx, steward.PermConfigWrite); err != nil {
		return nil, err
	}
	if since.IsZero() {
		return nil, steward.FieldError("since", "is required: an RFC 3339 time")
	}
	if until.IsZero() {
		until = s.now()
	} else if until.Before(since) {
		return nil, steward.FieldError("until", "must not be before since")
	}
	var e *steward.WebhookEndpoint
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		if e, err = tx.GetWebhookEndpoint(ctx, wid); err != nil {
			return notFound(err, "webhook", wid)
		}
		from, err := tx.WebhookEventSeqBefore(ctx, since)
		if err != nil {
			return err
		}
		// The last event written at or before until (times are kept to
		// the microsecond).
		to, err := tx.WebhookEventSeqBefore(ctx, until.Add(time.Microsecond))
		if err != nil {
			return err
		}
		resume := e.AfterSeq
		if e.ReplayToSeq > 0 {
			resume = max(resume, e.ReplayResumeSeq)
		}
		if from >= resume || to <= from {
			return nil // nothing of the range was sent yet, or it is empty
		}
		before := e.AfterSeq
		e.AfterSeq, e.Attempts, e.NextAttemptAt, e.UpdatedAt = from, 0, nil, s.now()
		e.ReplayToSeq, e.ReplayResumeSeq = to, resume
		if to >= resume { // the range reaches the present: nothing to jump over
			e.ReplayToSeq, e.ReplayResumeSeq = 0, 0
		}
		if err := tx.UpdateWebhookEndpoint(ctx, e); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{Action: "webhook.replay", TargetType: "webhook", TargetID: wid,
			TenantID: e.TenantID, Metadata: map[string]any{"since": since, "until": until, "from_seq": from + 1,
				"to_seq": to, "was_after_seq": before}})
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// replaySkips says whether seq lies between a replayed range and where
// the endpoint had got to: already sent, not sent again.
func replaySkips(e *steward.WebhookEndpoint, seq int64) bool {
	return e.ReplayToSeq > 0 && seq > e.ReplayToSeq && seq <= e.ReplayResumeSeq
}

// advance moves e's cursor to seq and, once past a replayed range, on to
// where the endpoint had got to before the replay.
func advance(e *steward.WebhookEndpoint, seq int64) {
	e.AfterSeq = seq
	if e.ReplayToSeq > 0 && seq >= e.ReplayToSeq {
		e.AfterSeq = max(seq, e.ReplayResumeSeq)
		e.ReplayToSeq, e.ReplayResumeSeq = 0, 0
	}
}
