package drime

import (
	"encoding/json"
	"testing"
	"time"
)

func TestFlexInt(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{`488163423`, 488163423, false},
		{`"488163423"`, 488163423, false},
		{`" 42 "`, 42, false},
		{`null`, 0, false},
		{`""`, 0, false},
		{`4112271.0`, 4112271, false},
		{`7.6e8`, 760000000, false},
		{`true`, 1, false},
		{`-3`, -3, false},
		{`"abc"`, 0, true},
		{`1.5`, 0, true},
		{`{}`, 0, true},
	} {
		var v flexInt
		err := json.Unmarshal([]byte(tc.in), &v)
		if (err != nil) != tc.wantErr || (err == nil && int64(v) != tc.want) {
			t.Errorf("flexInt(%s) = %d, %v; want %d, err=%v", tc.in, v, err, tc.want, tc.wantErr)
		}
	}
}

func TestFlexBool(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    bool
		wantErr bool
	}{
		{`true`, true, false}, {`false`, false, false},
		{`1`, true, false}, {`0`, false, false},
		{`"1"`, true, false}, {`"0"`, false, false},
		{`"true"`, true, false}, {`null`, false, false},
		{`""`, false, false}, {`"yes"`, false, true},
	} {
		var v flexBool
		err := json.Unmarshal([]byte(tc.in), &v)
		if (err != nil) != tc.wantErr || (err == nil && bool(v) != tc.want) {
			t.Errorf("flexBool(%s) = %v, %v; want %v, err=%v", tc.in, v, err, tc.want, tc.wantErr)
		}
	}
}

func TestFlexTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{`"2024-01-15T10:30:00.000000Z"`, time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)},
		{`"2025-12-18 18:39:07"`, time.Date(2025, 12, 18, 18, 39, 7, 0, time.UTC)},
		{`"2025-12-18T18:39:07"`, time.Date(2025, 12, 18, 18, 39, 7, 0, time.UTC)},
		{`"2024-01-15T12:30:00+02:00"`, time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)},
		{`null`, time.Time{}},
		{`""`, time.Time{}},
		{`"not a time"`, time.Time{}},
		{`1700000000`, time.Unix(1700000000, 0).UTC()},
	} {
		var v flexTime
		if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
			t.Errorf("flexTime(%s): %v", tc.in, err)
			continue
		}
		if !v.Equal(tc.want) {
			t.Errorf("flexTime(%s) = %v, want %v", tc.in, v.Time, tc.want)
		}
	}
}

func TestFlexString(t *testing.T) {
	for in, want := range map[string]string{
		`"a b"`: "a b", `null`: "", `123`: "123", `[]`: "", `{"x":1}`: "",
	} {
		var v flexString
		if err := json.Unmarshal([]byte(in), &v); err != nil || string(v) != want {
			t.Errorf("flexString(%s) = %q, %v; want %q", in, v, err, want)
		}
	}
}

func TestObjectAcceptsEmptyArray(t *testing.T) {
	type inner struct {
		A flexInt `json:"a"`
	}
	for in, wantNil := range map[string]bool{`[]`: true, `null`: true, `{}`: false, `{"a":"5"}`: false, `""`: true} {
		var v object[inner]
		if err := json.Unmarshal([]byte(in), &v); err != nil {
			t.Errorf("object(%s): %v", in, err)
			continue
		}
		if (v.V == nil) != wantNil {
			t.Errorf("object(%s): nil=%v, want %v", in, v.V == nil, wantNil)
		}
	}
}

func TestWireEntryTolerant(t *testing.T) {
	in := `{"id":"488163423","name":"IMG.jpeg","type":"image","hash":"NDg4MTYzNDIzfA",
	 "file_size":"4112271","mime":null,"extension":null,"file_name":"977a9bec",
	 "parent_id":null,"workspace_id":"0","url":null,"backup":"0","is_deleted":0,
	 "tracked":0,"deleted_at":null,"created_at":"2025-12-22T13:45:07.000000Z",
	 "updated_at":"2025-12-18 18:39:07","users":[{"entry_permissions":[]}],
	 "permissions":[],"tags":[],"parent":[]}`
	var w wireEntry
	if err := json.Unmarshal([]byte(in), &w); err != nil {
		t.Fatal(err)
	}
	e := w.entry()
	want := Entry{ID: 488163423, Name: "IMG.jpeg", Type: "image", Hash: "NDg4MTYzNDIzfA", Size: 4112271,
		FileName: "977a9bec", CreatedAt: time.Date(2025, 12, 22, 13, 45, 7, 0, time.UTC),
		UpdatedAt: time.Date(2025, 12, 18, 18, 39, 7, 0, time.UTC)}
	if e != want {
		t.Errorf("entry = %+v\nwant    %+v", e, want)
	}
	if w.hidden() {
		t.Error("live entry reported hidden")
	}
	for _, hidden := range []string{`{"id":1,"deleted_at":"2024-01-15T10:30:00.000000Z"}`, `{"id":1,"backup":true}`,
		`{"id":1,"backup":"1"}`, `{"id":1,"is_deleted":1}`} {
		var w wireEntry
		if err := json.Unmarshal([]byte(hidden), &w); err != nil || !w.hidden() {
			t.Errorf("%s: hidden=%v err=%v", hidden, w.hidden(), err)
		}
	}
}

func TestDecodeEntryWrappers(t *testing.T) {
	for _, body := range []string{
		`{"status":"success","fileEntry":{"id":7,"name":"a"}}`,
		`{"file":{"id":"7","name":"a"}}`,
		`{"entry":{"id":7,"name":"a"}}`,
		`{"data":{"id":7,"name":"a"}}`,
		`{"folder":{"id":7,"name":"a"},"seo":null}`,
		`{"fileEntry":[],"data":{"id":7,"name":"a"}}`,
		`{"id":7,"name":"a"}`,
	} {
		e, err := decodeEntry([]byte(body))
		if err != nil || e.ID != 7 || e.Name != "a" {
			t.Errorf("decodeEntry(%s) = %+v, %v", body, e, err)
		}
	}
	for _, body := range []string{`{"status":"success"}`, `{"fileEntry":[]}`, `{"fileEntry":{"id":0}}`, `[1]`} {
		if e, err := decodeEntry([]byte(body)); err == nil {
			t.Errorf("decodeEntry(%s) = %+v, want error", body, e)
		}
	}
}
