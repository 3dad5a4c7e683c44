//! The MQTT transport (arrives with the MQTT runtime).
