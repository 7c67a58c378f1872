"""The worker reads assignments and writes results through the protocol models."""

from __future__ import annotations

from swarmgen.backends.echo import EchoBackend
from swarmgen.core.jobs import ImageSpec, Job, TextSpec
from swarmgen.core.offerings import Offering
from swarmgen.core.receipts import Receipt
from swarmgen.core.signing import KeyPair
from swarmgen.protocol import Assignment, ResultIn
from swarmgen.worker.daemon import job_of, result_in, result_payload


def signed_result(job: Job) -> tuple[ResultIn, dict[str, object]]:
    (output,) = EchoBackend(job.offering, job.kind).run([job])
    receipt = Receipt.signed(
        KeyPair.generate(),
        job_id=job.id,
        input_digest=job.input_digest(),
        output_digest=output.digest(),
        artifact_digest=output.digest(),
        timings={"run_ms": 1},
    )
    return result_in(job, output, receipt), result_payload(job, output, receipt)


def test_an_assignment_becomes_the_job_it_describes() -> None:
    spec = TextSpec(messages=(), prompt="hi", max_tokens=4, temperature=0.5, top_p=1.0, seed=7)
    job = Job("j1", Offering.parse("echo-text@fp32"), spec, sampling_id="s")
    wire = Assignment(
        job_id="j1",
        model="echo-text@fp32",
        spec=spec.canonical(),
        input_digest=job.input_digest(),
        lease_expires_ms=1,
        sampling_id="s",
    )
    assert job_of(wire) == job


def test_results_carry_images_or_text_never_both() -> None:
    image = Job("i1", Offering.parse("echo-image@fp32"), ImageSpec(prompt="p", seed=1))
    model, payload = signed_result(image)
    assert model.images and model.text is None
    assert set(payload) == {"job_id", "images", "receipt"}
    assert ResultIn.model_validate(payload) == model
    text = Job("t1", Offering.parse("echo-text@fp32"), TextSpec(prompt="hi", seed=1))
    model, payload = signed_result(text)
    assert model.text is not None and model.images is None
    assert set(payload) == {"job_id", "text", "receipt"}
