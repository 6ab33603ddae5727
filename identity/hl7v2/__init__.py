"""HL7 v2 ADT intake (IHE PAM France subset): parsing, the referential's actions, ACKs, MLLP."""
