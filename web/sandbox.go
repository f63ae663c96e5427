package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/mapping"
	"github.com/apptbridge/apptbridge/notify"
	"github.com/apptbridge/apptbridge/store"
)

// The SMS sandbox's phone simulator: the texts a phone received (bodies
// included: sandbox texts are what an operator tests with) and a reply
// typed as if from that phone, through the same reply path as Twilio's
// webhook.

func (a *API) sandboxTexts(w http.ResponseWriter, r *http.Request) {
	phone := r.URL.Query().Get("phone")
	f := store.TextFilter{Limit: 200}
	if phone != "" {
		p, ok := mapping.NormalizePhone(phone, a.cfg.DefaultCountry)
		if !ok {
			writeError(w, http.StatusBadRequest, "invalid", "invalid query parameters",
				[]FieldError{{Field: "phone", Message: "not a phone number"}})
			return
		}
		f.Phone = p
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "invalid", "invalid query parameters",
				[]FieldError{{Field: "limit", Message: "must be an integer from 1 to 1000"}})
			return
		}
		f.Limit = n
	}
	list, err := a.cfg.Store.Texts(r.Context(), f)
	if err != nil {
		a.internal(w, "list texts", err)
		return
	}
	out := []textJSON{}
	for _, t := range list {
		j := toText(t, true)
		if t.AppointmentID != "" {
			j.AppointmentID = t.AppointmentID
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"texts": out})
}

func (a *API) sandboxSMS(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var in struct {
		From string `json:"from"`
		Body string `json:"body"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "body must be {\"from\": phone, \"body\": text}", nil)
		return
	}
	var ferrs []FieldError
	from, ok := mapping.NormalizePhone(in.From, a.cfg.DefaultCountry)
	if !ok {
		ferrs = append(ferrs, FieldError{Field: "from", Message: "required: the patient's phone number"})
	}
	if len(in.Body) > 1600 {
		ferrs = append(ferrs, FieldError{Field: "body", Message: "at most 1600 characters"})
	}
	if len(ferrs) > 0 {
		writeError(w, http.StatusBadRequest, "invalid", "the reply has invalid fields", ferrs)
		return
	}
	res, err := a.cfg.Replies.Handle(r.Context(), notify.InboundSMS{
		SID: "SB" + strings.ReplaceAll(apptbridge.NewEventID(), "-", ""), From: from, Body: in.Body,
		ReceivedAt: a.cfg.Now()})
	if err != nil {
		a.internal(w, "reply", err)
		return
	}
	a.auditAs(r, "simulate.sms", res.AppointmentID, "reply "+string(res.Intent))
	writeJSON(w, http.StatusOK, map[string]any{"intent": res.Intent, "appointment_id": res.AppointmentID,
		"applied": res.Applied})
}
