#!/bin/sh
# Renders the config templates from the task's environment (secrets come from `sst secret set`,
# never from the image), then runs Asterisk in the foreground.
set -eu
: "${ARI_USER:?set ARI_USER}" "${ARI_PASSWORD:?set ARI_PASSWORD}"
: "${SIP_TRUNK_HOST:?set SIP_TRUNK_HOST (npx sst secret set SipTrunkHost …)}"
: "${SIP_TRUNK_USER:?set SIP_TRUNK_USER}" "${SIP_TRUNK_PASSWORD:?set SIP_TRUNK_PASSWORD}"
export SIP_PORT="${SIP_PORT:-5060}" RTP_START="${RTP_START:-10000}" RTP_END="${RTP_END:-10999}"
# Fargate gives the task a public IP Asterisk cannot see; SDP must carry it or media is one-way.
if [ -z "${EXTERNAL_IP:-}" ]; then
  EXTERNAL_IP=$(curl -fsS --max-time 5 https://checkip.amazonaws.com || true)
fi
export EXTERNAL_IP="${EXTERNAL_IP:-127.0.0.1}"
for f in /etc/asterisk/templates/*.conf; do
  envsubst < "$f" > "/etc/asterisk/$(basename "$f")"
done
exec asterisk -f -U asterisk -G asterisk -vvv
