-- Wireshark/tshark plugin: hands decrypted DTLS application data to the SCTP dissector, on any
-- UDP port (WebRTC data channels run SCTP over DTLS, RFC 8261). tshark 4.0 has no "decode as"
-- entry for SCTP in the DTLS table, hence this heuristic. Use:
--   tshark -r capture.pcap -X lua_script:harness/wireshark/sctp_over_dtls.lua \
--          -o tls.keylog_file:dtls-keys.log -Y rtcdc
local sctp = Dissector.get("sctp")
local proto = Proto("sctp_over_dtls", "SCTP over DTLS (heuristic)")
local function heuristic(tvb, pinfo, tree)
    if tvb:len() < 16 then return false end
    -- After the 12-byte SCTP common header, the first chunk's type must be a known one.
    local t = tvb(12, 1):uint()
    if t > 15 and t ~= 64 and t ~= 128 and t ~= 130 and t ~= 192 and t ~= 193 then
        return false
    end
    sctp:call(tvb, pinfo, tree)
    return true
end
proto:register_heuristic("dtls", heuristic)
