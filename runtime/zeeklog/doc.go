// Package zeeklog turns a byte stream of Zeek logs into records: one JSON
// object per log line, the log type, the line number, and an error for a
// line that cannot become a record.
//
// It reads both formats Zeek writes:
//
//   - JSON lines (LogAscii::use_json, Corelight's JSON exporters): one object
//     per line. The bytes are passed through untouched apart from the line
//     ending; decoding is the filter chain's job, so a record's _path is not
//     read here.
//   - The classic tab-separated format with its #separator, #set_separator,
//     #empty_field, #unset_field, #path, #fields and #types header. Each data
//     line is converted to the JSON object Zeek's own JSON writer would have
//     written for it (see [Reader.Next] for the rules).
//
// Gzip input is recognised by its magic bytes. Every line that is not blank
// and not a # header line (in FormatJSON, # lines are records too) yields
// exactly one [Record]; a line that is
// malformed (TSV before any #fields header, a wrong number of columns, a
// cut-off JSON object, a line over the length limit) yields a record whose
// Err says what is wrong and whose Data is {"event":{"original":"<line>"}},
// so bad input is never dropped silently and never stops a reader.
//
// A [Reader] reports its [Position] after every record: the bytes and lines
// consumed and the active TSV header. A caller that saves the position can
// resume a stream later (see [WithResume] and [Reader.Skip]).
package zeeklog
