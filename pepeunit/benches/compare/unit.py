"""The reference Python client (pepeunit-client) as the `compare` bench runs it.

python unit.py echo  UNIT_DIR LOG   -- a unit that publishes every input/pepeunit message back on
                                       output/pepeunit from its input handler; runs until killed
python unit.py flood UNIT_DIR LOG TOTAL QUIET_S TIMEOUT_S
                                    -- counts input/pepeunit messages; when TOTAL arrived, or nothing
                                       came for QUIET_S after the first, or TIMEOUT_S passed, prints
                                       "RESULT <received> <seconds first to last>" and exits
Both follow the client's README example: connect, subscribe_all_schema_topics, run_main_cycle
(default cycle_speed 0.1 s), with console logging off (ours does not print either).
"""
import os
import sys
import time

from pepeunit_client import PepeunitClient, RestartMode


def client_for(unit_dir, log):
    return PepeunitClient(
        env_file_path=os.path.join(unit_dir, "env.json"),
        schema_file_path=os.path.join(unit_dir, "schema.json"),
        log_file_path=log,
        enable_mqtt=True,
        enable_rest=True,
        restart_mode=RestartMode.NO_RESTART,
        ff_console_log_enable=False,
    )


def echo(unit_dir, log):
    client = client_for(unit_dir, log)

    def on_input(client, msg):
        client.publish_to_topics("output/pepeunit", msg.payload)

    client.set_mqtt_input_handler(on_input)
    client.mqtt_client.connect()
    client.subscribe_all_schema_topics()
    client.run_main_cycle()


def flood(unit_dir, log, total, quiet, timeout):
    client = client_for(unit_dir, log)
    seen = {"count": 0, "first": None, "last": None}
    started = time.monotonic()

    def on_input(client, msg):
        now = time.monotonic()
        seen["count"] += 1
        if seen["first"] is None:
            seen["first"] = now
        seen["last"] = now

    def on_tick(client):
        now = time.monotonic()
        done = seen["count"] >= total
        stalled = seen["last"] is not None and now - seen["last"] > quiet
        if done or stalled or now - started > timeout:
            client.stop_main_cycle()

    client.set_mqtt_input_handler(on_input)
    client.set_output_handler(on_tick)
    client.mqtt_client.connect()
    client.subscribe_all_schema_topics()
    client.run_main_cycle()
    elapsed = (seen["last"] - seen["first"]) if seen["first"] is not None else 0.0
    print(f"RESULT {seen['count']} {elapsed:.6f}", flush=True)
    client.mqtt_client.disconnect()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "echo":
        echo(sys.argv[2], sys.argv[3])
    elif mode == "flood":
        flood(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]))
    else:
        sys.exit(f"unknown mode {mode!r}")
