-- Athena tables over apptbridge's S3 archive (SPEC §12, store/s3).
--
-- Replace before running:
--   ${BUCKET}         the S3_BUCKET
--   ${CUSTOMER_CODE}  the CUSTOMER_CODE (the customer= partition)
--   ${DATABASE}       a Glue database, e.g. patient_appointments_${CUSTOMER_CODE}
--
-- Every object is one JSON object on one line (org.openx.data.jsonserde.JsonSerDe).
-- Instants are RFC 3339 strings in UTC (2026-03-04T05:06:07.123456Z): read
-- them with from_iso8601_timestamp(col). Keys the tables do not declare are
-- ignored, so newer apptbridge versions adding keys break nothing.
--
-- Partitions use partition projection: no crawler, no MSCK REPAIR TABLE, new
-- dates and dispositions are visible at once. Without projection (remove
-- the TBLPROPERTIES projection.* lines), run after new partitions appear:
--   MSCK REPAIR TABLE ${DATABASE}.state;
--   MSCK REPAIR TABLE ${DATABASE}.history;
-- (the key layout is Hive-style, customer=…/disposition=… and customer=…/dt=…).

CREATE DATABASE IF NOT EXISTS ${DATABASE};

-- One object per appointment: its current state, under the partition of its
-- current disposition (moved when it changes). The JSON also has a
-- "disposition" key; the partition column of the same name carries it.
CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.state (
  event_id                     string,
  event_type                   string,
  event_datetime_utc           string,
  patient_id                   string,
  patient_first_name           string,
  patient_last_name            string,
  patient_phone                string,
  patient_language             string,
  provider_id                  string,
  provider_first_name          string,
  provider_last_name           string,
  provider_callback_phone      string,
  appointment_id               string,
  appointment_placer_id        string,
  appointment_filler_id        string,
  appointment_location         string,
  appointment_location_code    string,
  appointment_datetime         string,
  appointment_timezone         string,
  appointment_tz               string,
  appointment_datetime_utc     string,
  appointment_duration_minutes int,
  appointment_type             string,
  appointment_reason           string,
  appointment_status           string,
  source struct<
    channel:string,
    message_control_id:string,
    message_type:string,
    sending_application:string,
    sending_facility:string,
    received_at:string>,
  confirmed                    boolean,
  reminders_sent               int,
  ladder_before_opt_out        string,
  last_ehr_event_at            string,
  created_at                   string,
  updated_at                   string,
  version                      bigint
)
PARTITIONED BY (customer string, disposition string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'false')
LOCATION 's3://${BUCKET}/state/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.customer.type' = 'enum',
  'projection.customer.values' = '${CUSTOMER_CODE}',
  'projection.disposition.type' = 'enum',
  'projection.disposition.values' = 'QUEUED,REMINDED-1,REMINDED-2,CANCELED,NOSHOWED,EXPIRED,OPTED-OUT',
  'storage.location.template' = 's3://${BUCKET}/state/customer=${customer}/disposition=${disposition}/'
);

-- One immutable object per event, applied or not, partitioned by the UTC
-- day it was recorded. "disposition" is the disposition after the event,
-- "from" the one before; the event's own keys follow.
CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.history (
  seq                          bigint,
  recorded_at                  string,
  applied                      boolean,
  reason                       string,
  `from`                       string,
  disposition                  string,
  text                         string,
  suppressed                   string,
  event_id                     string,
  event_type                   string,
  event_datetime_utc           string,
  patient_id                   string,
  patient_first_name           string,
  patient_last_name            string,
  patient_phone                string,
  patient_language             string,
  provider_id                  string,
  provider_first_name          string,
  provider_last_name           string,
  provider_callback_phone      string,
  appointment_id               string,
  appointment_placer_id        string,
  appointment_filler_id        string,
  appointment_location         string,
  appointment_location_code    string,
  appointment_datetime         string,
  appointment_timezone         string,
  appointment_tz               string,
  appointment_datetime_utc     string,
  appointment_duration_minutes int,
  appointment_type             string,
  appointment_reason           string,
  appointment_status           string,
  source struct<
    channel:string,
    message_control_id:string,
    message_type:string,
    sending_application:string,
    sending_facility:string,
    received_at:string>
)
PARTITIONED BY (customer string, dt string)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
WITH SERDEPROPERTIES ('ignore.malformed.json' = 'false')
LOCATION 's3://${BUCKET}/history/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.customer.type' = 'enum',
  'projection.customer.values' = '${CUSTOMER_CODE}',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2024-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://${BUCKET}/history/customer=${customer}/dt=${dt}/'
);

-- Examples.
--
-- Appointments by disposition:
--   SELECT disposition, count(*) FROM ${DATABASE}.state
--   WHERE customer = '${CUSTOMER_CODE}' GROUP BY disposition;
--
-- Upcoming confirmed appointments:
--   SELECT appointment_id, patient_id, from_iso8601_timestamp(appointment_datetime_utc) AS starts
--   FROM ${DATABASE}.state
--   WHERE customer = '${CUSTOMER_CODE}' AND disposition IN ('QUEUED', 'REMINDED-1', 'REMINDED-2')
--     AND confirmed AND from_iso8601_timestamp(appointment_datetime_utc) > current_timestamp
--   ORDER BY starts;
--
-- One appointment's history, oldest first (dt prunes partitions):
--   SELECT seq, recorded_at, event_type, applied, reason, "from", disposition, text
--   FROM ${DATABASE}.history
--   WHERE customer = '${CUSTOMER_CODE}' AND dt >= '2026-03-01' AND appointment_id = 'A-1'
--   ORDER BY seq;
--
-- Cancellations per day:
--   SELECT dt, count(*) FROM ${DATABASE}.history
--   WHERE customer = '${CUSTOMER_CODE}' AND applied AND disposition = 'CANCELED' AND "from" <> 'CANCELED'
--   GROUP BY dt ORDER BY dt;
