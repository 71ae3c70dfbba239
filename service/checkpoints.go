package service

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/stewardhq/steward"
	"github.com/stewardhq/steward/internal/id"
	"github.com/stewardhq/steward/store"
)

// Signed checkpoints of the audit chain's head. The chain's hashes show an
// entry changed or removed in the middle; they cannot show the newest
// entries removed, since what is left is still a valid chain. A checkpoint
// (seq, hash, time) signed with Steward's signing key can: a chain that ends
// before a checkpoint's seq, or holds another hash there, was cut or
// rewritten after it was made. Each checkpoint also goes to the application
// log, the copy an attacker who rewrites the database cannot reach.
//
// A checkpoint is audited, without the chain growing on an idle system: the
// audit.checkpoint entry is appended first and the checkpoint then signs the
// head including that entry, so the head stays at the checkpoint's seq until
// something else happens, and the periodic job only signs a head that moved.

// DefaultCheckpointInterval is how often the chain's head is signed by
// default, when it has moved.
const DefaultCheckpointInterval = 15 * time.Minute

// checkpointJOSEType is the typ header of a checkpoint's JWS.
const checkpointJOSEType = "steward-audit-checkpoint"

func (s *Audit) checkpointInterval() time.Duration {
	if s.cfg.CheckpointInterval > 0 {
		return s.cfg.CheckpointInterval
	}
	return DefaultCheckpointInterval
}

// CreateAuditCheckpoint implements steward.AuditService.
func (s *Audit) CreateAuditCheckpoint(ctx context.Context) (*steward.AuditCheckpoint, error) {
	if _, err := authorize(ctx, steward.PermAuditCheckpoint); err != nil {
		return nil, err
	}
	return s.checkpoint(ctx, true)
}

// CheckpointIfDue signs the chain's head as the system when the head has
// moved since the latest checkpoint and that one is CheckpointInterval old
// (or there is none). It returns nil when nothing was due. The serve
// command's maintenance loop calls it every minute; replicas share the
// latest checkpoint, so together they still sign once per interval.
func (s *Audit) CheckpointIfDue(ctx context.Context) (*steward.AuditCheckpoint, error) {
	return s.checkpoint(steward.WithActor(ctx, steward.SystemActor), false)
}

func (s *Audit) checkpoint(ctx context.Context, force bool) (*steward.AuditCheckpoint, error) {
	key := s.keys.current()
	if key == nil {
		return nil, errNoSigningKey
	}
	if force {
		s.sealForRead(ctx) // sign what committed up to now
	} else {
		// Most minutes nothing is due: decide on a read first, so the
		// periodic job takes no write transaction (nor the chain lock)
		// for nothing. The transaction decides again. Pending entries
		// are sealed first, as the sequencer would.
		p, err := s.store.AuditPending(ctx)
		if err != nil {
			return nil, err
		}
		if p.Count > 0 {
			s.sealForRead(ctx)
		}
		head, err := s.store.ListAudit(ctx, steward.AuditFilter{Limit: 1, SealedOnly: true})
		if err != nil {
			return nil, err
		}
		var seq int64
		if len(head) > 0 {
			seq = head[0].Seq
		}
		if _, due, err := s.checkpointDue(ctx, s.store, seq, false); !due || err != nil {
			return nil, err
		}
	}
	var made *steward.AuditCheckpoint
	err := s.update(ctx, func(tx store.Tx) error {
		made = nil
		// The sealer lock, and everything sealable now sealed, so the
		// decision is on the head this checkpoint will extend.
		if _, err := s.sealIn(ctx, tx, math.MaxInt); err != nil {
			return err
		}
		seq, _, err := tx.LockAuditHead(ctx)
		if err != nil {
			return err
		}
		latest, due, err := s.checkpointDue(ctx, tx, seq, force)
		if !due || err != nil {
			return err
		}
		now := s.now()
		c := &steward.AuditCheckpoint{ID: id.New("ckp", now), Time: now, KeyID: key.ID}
		meta := map[string]any{"key_id": key.ID}
		if latest != nil {
			meta["previous"] = latest.ID
		}
		if err := s.audit(ctx, tx, event{Action: "audit.checkpoint", TargetType: "audit_checkpoint",
			TargetID: c.ID, Metadata: meta}); err != nil {
			return err
		}
		// Its own entry is sealable to this transaction: seal it, so the
		// checkpoint signs the entry that records it.
		if _, err := s.sealIn(ctx, tx, math.MaxInt); err != nil {
			return err
		}
		if c.Seq, c.Hash, err = tx.LockAuditHead(ctx); err != nil {
			return err
		}
		if c.Signature, err = signCheckpoint(key, c); err != nil {
			return err
		}
		if err := tx.InsertAuditCheckpoint(ctx, c); err != nil {
			return err
		}
		made = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	if made != nil {
		// The copy outside the database: enough to verify it later with
		// the signing key's public half from the JWKS.
		s.log.InfoContext(ctx, "audit checkpoint", "id", made.ID, "seq", made.Seq, "hash", made.Hash,
			"time", made.Time.Format(steward.AuditTimeFormat), "key_id", made.KeyID, "signature", made.Signature)
	}
	return made, nil
}

// checkpointDue says whether a checkpoint of the head at seq is due: always
// when forced, else when the head moved past the latest checkpoint and that
// one is an interval old (or there is none). Either way the chain must still
// agree with the latest checkpoint: signing a head that contradicts it would
// put a valid signature on a cut or rewritten chain.
func (s *Audit) checkpointDue(ctx context.Context, q store.Queries, seq int64, force bool) (*steward.AuditCheckpoint, bool, error) {
	latest, err := q.LatestAuditCheckpoint(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, force || seq > 0, nil
	case err != nil:
		return nil, false, err
	}
	if err := headAgrees(ctx, q, latest, seq); err != nil {
		return nil, false, err
	}
	due := force || latest.Seq < seq && s.now().Sub(latest.Time) >= s.checkpointInterval()
	return latest, due, nil
}

// headAgrees checks that the chain still reaches the latest checkpoint with
// the hash it signed.
func headAgrees(ctx context.Context, q store.Queries, latest *steward.AuditCheckpoint, head int64) error {
	broken := func(why string) error {
		return &steward.Error{Code: steward.CodeInvalidState,
			Message: fmt.Sprintf("the audit chain contradicts its latest checkpoint %s (seq %d): %s; run GET /admin/audit-log/verify or steward doctor",
				latest.ID, latest.Seq, why),
			Details: map[string]any{"checkpoint_id": latest.ID, "checkpoint_seq": latest.Seq, "head_seq": head}}
	}
	if head < latest.Seq {
		return broken(fmt.Sprintf("the chain ends at seq %d", head))
	}
	anchor, err := chainAnchor(ctx, q)
	if err != nil {
		return err
	}
	if anchor != nil && latest.Seq <= anchor.Seq {
		// Retention purged the entry it signed: the anchor holds its hash
		// when it was the last purged, and nothing is left to compare when
		// it was older.
		if latest.Seq == anchor.Seq && latest.Hash != anchor.Hash {
			return broken("the anchor's hash at its seq differs from the signed one")
		}
		return nil
	}
	at, err := q.ListAudit(ctx, steward.AuditFilter{BeforeSeq: latest.Seq + 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(at) == 0 || at[0].Seq != latest.Seq {
		return broken("its entry is missing")
	}
	if at[0].Hash != latest.Hash {
		return broken("its entry's hash differs from the signed one")
	}
	return nil
}

func checkpointPayload(c *steward.AuditCheckpoint) steward.CheckpointPayload {
	return steward.CheckpointPayload{Type: steward.CheckpointType, ID: c.ID, Seq: c.Seq, Hash: c.Hash,
		Time: c.Time.UTC().Format(steward.AuditTimeFormat)}
}

// signCheckpoint is the compact JWS of c's payload by key.
func signCheckpoint(key *ringKey, c *steward.AuditCheckpoint) (string, error) {
	payload, err := json.Marshal(checkpointPayload(c))
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA,
		Key: jose.JSONWebKey{Key: key.Private, KeyID: key.ID}},
		(&jose.SignerOptions{}).WithType(checkpointJOSEType))
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// checkCheckpoint says what is wrong with c's signature, or "": it must be
// one EdDSA signature by c.KeyID, found among pubs, over exactly c's fields.
func checkCheckpoint(c *steward.AuditCheckpoint, pubs map[string]ed25519.PublicKey) string {
	obj, err := jose.ParseSignedCompact(c.Signature, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(obj.Signatures) != 1 {
		return "its signature is not one compact EdDSA JWS"
	}
	h := obj.Signatures[0].Protected
	if h.KeyID != c.KeyID {
		return fmt.Sprintf("its signature names key %q, not its key %s", h.KeyID, c.KeyID)
	}
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != checkpointJOSEType {
		return fmt.Sprintf("its signature is of type %q, not a checkpoint", typ)
	}
	pub, ok := pubs[c.KeyID]
	if !ok {
		return fmt.Sprintf("it names signing key %s, which is not a trusted key of the signing key table", c.KeyID)
	}
	payload, err := obj.Verify(pub)
	if err != nil {
		return fmt.Sprintf("its signature does not verify with signing key %s (forged or altered)", c.KeyID)
	}
	var got steward.CheckpointPayload
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil || got != checkpointPayload(c) {
		return fmt.Sprintf("its stored fields differ from what was signed (signed: %s)", payload)
	}
	return ""
}

// ParseCheckpoint reads a checkpoint from its signature alone, the compact
// JWS that the log line carries, without verifying it: VerifyChainWith
// does, against the signing key table.
func ParseCheckpoint(signature string) (*steward.AuditCheckpoint, error) {
	signature = strings.TrimSpace(signature)
	obj, err := jose.ParseSignedCompact(signature, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(obj.Signatures) != 1 {
		return nil, errors.New("checkpoint: not one compact EdDSA JWS")
	}
	var p steward.CheckpointPayload
	dec := json.NewDecoder(bytes.NewReader(obj.UnsafePayloadWithoutVerification()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil || p.Type != steward.CheckpointType {
		return nil, errors.New("checkpoint: the JWS does not hold a Steward audit checkpoint")
	}
	at, err := time.Parse(steward.AuditTimeFormat, p.Time)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: time %q: %w", p.Time, err)
	}
	return &steward.AuditCheckpoint{ID: p.ID, Seq: p.Seq, Hash: p.Hash, Time: at,
		KeyID: obj.Signatures[0].Protected.KeyID, Signature: signature}, nil
}

// ListAuditCheckpoints implements steward.AuditService.
func (s *Audit) ListAuditCheckpoints(ctx context.Context, p steward.ListParams) (*steward.Page[*steward.AuditCheckpoint], error) {
	if _, err := authorize(ctx, steward.PermAuditRead); err != nil {
		return nil, err
	}
	limit, before, err := keyset(p)
	if err != nil {
		return nil, err
	}
	rows, err := s.store.ListAuditCheckpoints(ctx, before, limit+1)
	if err != nil {
		return nil, err
	}
	pg := page(rows, limit, func(c *steward.AuditCheckpoint) string { return encodeCursor(c.ID) })
	if p.IncludeTotal {
		// Checkpoints are few (one per interval with activity): counting
		// them is reading their ids.
		var n int64
		for before := ""; ; {
			batch, err := s.store.ListAuditCheckpoints(ctx, before, checkpointBatch)
			if err != nil {
				return nil, err
			}
			n += int64(len(batch))
			if len(batch) < checkpointBatch {
				break
			}
			before = batch[len(batch)-1].ID
		}
		pg.Total = &n
	}
	return pg, nil
}

const checkpointBatch = 1000

// allCheckpoints reads every checkpoint, seq ascending (then id).
func (s *Audit) allCheckpoints(ctx context.Context) ([]*steward.AuditCheckpoint, error) {
	var all []*steward.AuditCheckpoint
	for before := ""; ; {
		batch, err := s.store.ListAuditCheckpoints(ctx, before, checkpointBatch)
		if err != nil {
			return nil, err
		}
		all = append(all, batch...)
		if len(batch) < checkpointBatch {
			break
		}
		before = batch[len(batch)-1].ID
	}
	slices.SortFunc(all, func(a, b *steward.AuditCheckpoint) int {
		return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.ID, b.ID))
	})
	return all, nil
}

// publicKeys maps the id of every signing key Steward can vouch for to its
// public half, read from the table rather than the ring, so that `steward
// doctor` verifies without starting the service. With a secret configured
// only keys that open count (see Service.open); without one, the public
// halves are taken as stored.
func (s *Audit) publicKeys(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	keys, err := s.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	checked := s.cfg.SecretKey != nil || s.cfg.SecretKeyPrevious != nil
	out := make(map[string]ed25519.PublicKey, len(keys))
	for _, k := range keys {
		if checked {
			priv, err := s.open(k)
			if err != nil {
				continue
			}
			out[k.ID] = priv.Public().(ed25519.PublicKey)
			continue
		}
		if pub, err := publicKeyOf(k); err == nil { // a malformed row vouches for nothing
			out[k.ID] = pub
		}
	}
	return out, nil
}
