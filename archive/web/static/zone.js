// The display zone's abbreviation of an instant: the server sends, per UTC offset (minutes), the
// abbreviation zoneinfo gives (data-zone-abbrs, e.g. {"420": "WIB"}); the browser finds the
// instant's offset in that zone. An offset the server did not send is shown as "GMT+08:00".
export function zoneLabel(zone, abbrs) {
  const fmt = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" });
  return (ms) => {
    const part = fmt.formatToParts(new Date(ms)).find((p) => p.type === "timeZoneName");
    const text = part ? part.value : "GMT";
    const m = /GMT([+-])(\d{2}):(\d{2})/.exec(text);
    const minutes = m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
    return abbrs[String(minutes)] || text;
  };
}
