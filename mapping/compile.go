package mapping

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apptbridge/apptbridge"
)

// compile builds a Mapper. profileOnly is set by Profile.Validate, when the
// Config (and so the country of national callback numbers) is not known.
func compile(cfg Config, prof *Profile, profileOnly bool) (*Mapper, error) {
	p := prof.merged()
	m := &Mapper{profile: p, now: cfg.Now, channel: cfg.Channel}
	if m.now == nil {
		m.now = time.Now
	}
	if m.channel == "" {
		m.channel = apptbridge.ChannelMLLP
	}
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Zone, country, callback.
	zoneName, zoneKey := "America/New_York", "default timezone"
	if cfg.DefaultTimezone != "" {
		zoneName, zoneKey = cfg.DefaultTimezone, "DefaultTimezone"
	}
	if p.DefaultTimezone != "" {
		zoneName, zoneKey = p.DefaultTimezone, "default_timezone"
	}
	z, err := loadZone(zoneKey, zoneName)
	add(err)
	if z == nil {
		z = time.UTC
	}
	m.zone = zoneFor(z)
	cc, ccKey := "US", "default country"
	if cfg.DefaultCountry != "" {
		cc, ccKey = cfg.DefaultCountry, "DefaultCountry"
	}
	phonesChecked := true
	if p.DefaultCountry != "" {
		cc, ccKey = p.DefaultCountry, "default_country"
	} else if profileOnly {
		// The country comes later from Config, so national callback
		// numbers cannot be checked yet.
		phonesChecked = false
	}
	m.country = countryByISO(strings.TrimSpace(cc))
	if m.country == nil {
		add(fmt.Errorf("%s: %q is not a supported country (supported: %s)", ccKey, cc, strings.Join(SupportedCountries(), " ")))
		m.country = &countries[0]
	}
	callback := cfg.CallbackPhone
	cbKey := "CallbackPhone"
	if p.CallbackPhone != "" {
		callback, cbKey = p.CallbackPhone, "callback_phone"
	}
	if callback != "" {
		if e, ok := normalizePhone(m.country, false, callback); ok {
			m.callback = e
		} else if phonesChecked || strings.HasPrefix(strings.TrimSpace(callback), "+") {
			add(fmt.Errorf("%s: not a usable phone number for country %s", cbKey, m.country.iso))
		}
	}

	// Versions.
	for i, v := range p.Versions {
		v = strings.TrimSpace(v)
		if v == "" || strings.ContainsAny(v, " |^~\\&") {
			add(fmt.Errorf("versions[%d]: %q is not a version", i, v))
			continue
		}
		m.versions = append(m.versions, v)
	}
	m.allowNoVers = p.AllowMissingVersion == nil || *p.AllowMissingVersion

	// Trigger table and status refinement.
	refines := map[string]bool{}
	for i, t := range p.StatusRefines {
		u := strings.ToUpper(strings.TrimSpace(t))
		if !validTrigger(u) {
			add(fmt.Errorf("status_refines[%d]: %q is not a trigger event like S14", i, t))
		}
		refines[u] = true
	}
	m.triggers = make(map[string]*trigger, len(p.Triggers))
	for _, k := range sortedKeys(p.Triggers) {
		u := strings.ToUpper(strings.TrimSpace(k))
		if !validTrigger(u) {
			add(fmt.Errorf("triggers: %q is not a trigger event like S12", k))
			continue
		}
		if _, dup := m.triggers[u]; dup {
			add(fmt.Errorf("triggers.%s: listed twice", k))
			continue
		}
		ev, ign, err := parseEventType("triggers."+k, p.Triggers[k], true)
		if err != nil {
			add(err)
			continue
		}
		t := &trigger{event: ev, ignore: ign, refine: refines[u], msgType: "SIU^" + u}
		if ign {
			switch u {
			case "S23":
				t.reason = "SIU^S23: blocked slots have no appointment effect"
			case "S24":
				t.reason = "SIU^S24: opened slots have no appointment effect"
			default:
				t.reason = "SIU^" + u + ": ignored by the mapping profile"
			}
		}
		m.triggers[u] = t
	}
	for _, k := range sortedKeys(p.StatusTable) {
		code := strings.TrimSpace(k)
		if code == "" {
			add(errors.New("status_table: empty status code"))
			continue
		}
		for _, e := range m.status {
			if strings.EqualFold(e.code, code) {
				add(fmt.Errorf("status_table.%s: listed twice (codes are case-insensitive)", k))
			}
		}
		ev, _, err := parseEventType("status_table."+k, p.StatusTable[k], false)
		if err != nil {
			add(err)
			continue
		}
		m.status = append(m.status, statusEntry{code: code, event: ev})
	}
	m.statusRef, err = parseRef("status_field", p.StatusField)
	add(err)

	// Appointment id.
	switch strings.ToLower(strings.TrimSpace(p.IDField)) {
	case "placer":
		m.idRefs = mustRefs("SCH-1.1", "SCH-2.1")
	case "filler":
		m.idRefs = mustRefs("SCH-2.1", "SCH-1.1")
	default:
		r, err := parseRef("id_field", p.IDField)
		if err != nil {
			add(fmt.Errorf("id_field: %q is not placer, filler or a field location", p.IDField))
		} else {
			m.idRefs = []fieldRef{r}
		}
	}

	// Patient.
	m.patIDRef, err = parseRef("patient_id_field", p.PatientIDField)
	add(err)
	for _, t := range p.PatientIDTypes {
		if t = strings.TrimSpace(t); t != "" {
			m.patIDTypes = append(m.patIDTypes, t)
		}
	}
	m.nameRef, err = parseRef("patient_name_field", p.PatientNameField)
	add(err)
	m.langRef, err = parseRef("language_field", p.LanguageField)
	add(err)

	// Times.
	m.start, err = parseRefs("start_fields", p.StartFields)
	add(err)
	if len(p.StartFields) == 0 {
		add(errors.New("start_fields: empty"))
	}
	for i, t := range p.StartRequired {
		ev, _, err := parseEventType(fmt.Sprintf("start_required[%d]", i), t, false)
		add(err)
		if err == nil {
			m.startReq = append(m.startReq, ev)
		}
	}
	for i, d := range p.Durations {
		key := fmt.Sprintf("durations[%d]", i)
		var ds durationSource
		switch {
		case d.End != "" && (d.Quantity != "" || d.Units != ""):
			add(fmt.Errorf("%s: set either end or quantity (with units)", key))
			continue
		case d.End != "":
			ds.isEnd = true
			ds.end, err = parseRef(key+".end", d.End)
		case d.Quantity != "":
			ds.qty, err = parseRef(key+".quantity", d.Quantity)
			if err == nil && d.Units != "" {
				ds.units, err = parseRef(key+".units", d.Units)
				ds.hasUnits = true
				if err == nil && ds.units.seg != ds.qty.seg {
					err = fmt.Errorf("%s: quantity and units must be in the same segment", key)
				}
			}
		default:
			err = fmt.Errorf("%s: set quantity or end", key)
		}
		if err != nil {
			add(err)
			continue
		}
		m.durations = append(m.durations, ds)
	}

	// Phone.
	m.phoneFields, err = parseRefs("phone.fields", p.Phone.Fields)
	add(err)
	for i, r := range p.Phone.Rules {
		kinds := 0
		if len(r.Equipment) > 0 || len(r.Use) > 0 {
			kinds++
		}
		if r.Lone {
			kinds++
		}
		if r.Any {
			kinds++
		}
		if kinds != 1 {
			add(fmt.Errorf("phone.rules[%d]: set exactly one of equipment/use, lone, any", i))
			continue
		}
		m.phoneRules = append(m.phoneRules, r)
	}
	m.neverUse, m.neverEquip = p.Phone.NeverUse, p.Phone.NeverEquipment

	// Provider, location, type, reason.
	m.providerRefs, err = parseRefs("provider_fields", p.ProviderFields)
	add(err)
	m.locRefs, err = parseRefs("location_fields", p.LocationFields)
	add(err)
	m.typeRef, err = parseRef("type_field", p.TypeField)
	add(err)
	m.reasonRef, err = parseRef("reason_field", p.ReasonField)
	add(err)

	m.locations = make(map[string]*site, len(p.Locations))
	for _, code := range sortedKeys(p.Locations) {
		l := p.Locations[code]
		key := "locations." + code
		if strings.TrimSpace(code) == "" {
			add(errors.New("locations: empty location code"))
			continue
		}
		s := &site{display: strings.TrimSpace(l.DisplayName), zone: m.zone}
		if l.Timezone != "" {
			z, err := loadZone(key+".timezone", l.Timezone)
			add(err)
			if z != nil {
				s.zone = zoneFor(z)
			}
		}
		if l.CallbackPhone != "" {
			if e, ok := normalizePhone(m.country, false, l.CallbackPhone); ok {
				s.callback = e
			} else if phonesChecked || strings.HasPrefix(strings.TrimSpace(l.CallbackPhone), "+") {
				add(fmt.Errorf("%s.callback_phone: not a usable phone number for country %s", key, m.country.iso))
			}
		}
		m.locations[code] = s
	}
	m.segKeys = []uint32{segKey("MSH"), segKey("SCH"), segKey("EVN")}
	reg := func(r *fieldRef) {
		k := segKey(r.seg)
		for i, x := range m.segKeys {
			if x == k {
				r.si = i
				return
			}
		}
		r.si = len(m.segKeys)
		m.segKeys = append(m.segKeys, k)
	}
	for _, r := range []*fieldRef{&m.statusRef, &m.patIDRef, &m.nameRef, &m.langRef, &m.typeRef, &m.reasonRef} {
		reg(r)
	}
	for _, list := range [][]fieldRef{m.idRefs, m.start, m.phoneFields, m.providerRefs, m.locRefs} {
		for i := range list {
			reg(&list[i])
		}
	}
	for i := range m.durations {
		reg(&m.durations[i].qty)
		reg(&m.durations[i].units)
		reg(&m.durations[i].end)
	}
	if len(m.segKeys) > maxSegNames {
		add(fmt.Errorf("profile: more than %d different segments named", maxSegNames))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

func mustRefs(locs ...string) []fieldRef {
	out := make([]fieldRef, len(locs))
	for i, l := range locs {
		r, err := parseRef("built-in", l)
		if err != nil {
			panic(err)
		}
		out[i] = r
	}
	return out
}
