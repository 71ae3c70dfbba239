package api

import (
	"net/http"

	"github.com/stewardhq/steward"
)

// The model catalogue (docs/models.md): the operators' status, list and
// switch, and the product's read of the active model.

func (s *server) modelStatus(w http.ResponseWriter, r *http.Request) error {
	return writeModelStatus(w)(s.Models.Status(r.Context()))
}

func (s *server) listModels(w http.ResponseWriter, r *http.Request) error {
	models, err := s.Models.Models(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": models})
	return nil
}

func (s *server) switchModel(w http.ResponseWriter, r *http.Request) error {
	var in steward.ModelSwitch
	if err := decode(r, &in, false); err != nil {
		return err
	}
	return writeModelStatus(w)(s.Models.Switch(r.Context(), &in))
}

func (s *server) activeModel(w http.ResponseWriter, r *http.Request) error {
	return writeModelStatus(w)(s.Models.Active(r.Context()))
}

func writeModelStatus(w http.ResponseWriter) func(*steward.ModelStatus, error) error {
	return func(st *steward.ModelStatus, err error) error {
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, st)
		return nil
	}
}
