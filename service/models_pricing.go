package service

import (
	"math/bits"
	"slices"

	"github.com/stewardhq/steward"
)

// Usage metrics a catalogue model prices (docs/models.md#pricing-usage).
const (
	MetricInputTokens  = "input_tokens"
	MetricOutputTokens = "output_tokens"
)

// priceUsage fills in the cost of a usage event that names a catalogue
// model and carries neither credits nor cost_micros, when its metric is
// input_tokens or output_tokens: quantity × the model's price per million
// tokens ÷ 1,000,000, rounded half up to whole micro-units. Credits are never
// derived (the catalogue's prices are money, and no conversion to credits
// is configured), and a cost the product reported is kept as sent. A
// disabled model is still priced: its events may still be arriving.
func (s *core) priceUsage(ev *steward.UsageEventInput) {
	if ev.Model == "" || ev.Credits != 0 || ev.CostMicros != 0 {
		return
	}
	i := slices.IndexFunc(s.cfg.Models, func(m *steward.Model) bool { return m.ID == ev.Model })
	if i < 0 {
		return
	}
	var price int64
	switch ev.Metric {
	case MetricInputTokens:
		price = s.cfg.Models[i].InputMicrosPerMtok
	case MetricOutputTokens:
		price = s.cfg.Models[i].OutputMicrosPerMtok
	default:
		return
	}
	ev.CostMicros = steward.Credits(costMicros(int64(ev.Quantity), price))
}

// costMicros is quantity × pricePerMtok / 1e6 rounded half up, in 128 bits:
// both factors may reach 10^12 (validated), the quotient at most 10^18.
func costMicros(quantity, pricePerMtok int64) int64 {
	hi, lo := bits.Mul64(uint64(quantity), uint64(pricePerMtok))
	lo, carry := bits.Add64(lo, 500_000, 0)
	q, _ := bits.Div64(hi+carry, lo, 1_000_000)
	return int64(q)
}
