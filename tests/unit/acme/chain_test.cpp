// Field case BC-05: the preferred chain is chosen by the issuer of each chain's
// topmost certificate, never by an intermediate somewhere inside it.
#include "acme/chain.hpp"
#include "test_certs.hpp"

#include <gtest/gtest.h>

namespace secure_api::acme {
namespace {

struct Hierarchy {
    // "Root X" is self-signed and also cross-signed by the older "Legacy Root".
    test::Issued legacy_root = test::make_cert({"Legacy Root", "Old Trust"}, nullptr);
    test::Issued root_x = test::make_cert({"Root X", "Example Trust"}, nullptr);
    test::Issued x_cross = test::cross_sign(root_x, {"Root X", "Example Trust"}, legacy_root);
    test::Issued i1 = test::make_cert({"I1", "Example Trust"}, &root_x);
    test::Issued leaf = test::make_cert({"www.acme.test", "", "\x05", false}, &i1);

    // leaf → I1 → X-cross: topmost issuer "Legacy Root", though I1 is signed by "Root X".
    CertificateChain default_chain() const {
        return {"https://ca.test/cert/1", leaf.pem + i1.pem + x_cross.pem};
    }
    // leaf → I1: topmost issuer "Root X".
    CertificateChain alternate_chain() const {
        return {"https://ca.test/cert/1/1", leaf.pem + i1.pem};
    }
};

TEST(TopmostIssuer, IsTheIssuerOfTheLastCertificate) {
    const Hierarchy h;
    auto issuer = topmost_issuer(h.default_chain().pem);
    ASSERT_TRUE(issuer) << issuer.error().message;
    EXPECT_EQ(issuer->common_name, "Legacy Root");
    EXPECT_NE(issuer->dn.find("O=Old Trust"), std::string::npos) << issuer->dn;
}

TEST(ChooseChain, field_bc_05_picks_the_alternate_whose_top_is_issued_by_the_preferred_root) {
    const Hierarchy h;
    const std::vector<CertificateChain> chains{h.default_chain(), h.alternate_chain()};
    const ChainChoice choice = choose_chain(chains, "Root X");
    EXPECT_TRUE(choice.preferred);
    EXPECT_EQ(choice.index, 1u);
}

TEST(ChooseChain, field_bc_05_an_intermediate_signed_by_the_preferred_root_does_not_match) {
    const Hierarchy h;
    const std::vector<CertificateChain> chains{h.default_chain()};
    const ChainChoice choice = choose_chain(chains, "Root X");
    EXPECT_FALSE(choice.preferred);
    EXPECT_EQ(choice.index, 0u);
}

TEST(ChooseChain, field_bc_05_no_match_falls_back_to_the_default_chain) {
    const Hierarchy h;
    const std::vector<CertificateChain> chains{h.default_chain(), h.alternate_chain()};
    const ChainChoice choice = choose_chain(chains, "Nobody's Root");
    EXPECT_FALSE(choice.preferred);
    EXPECT_EQ(choice.index, 0u);
}

TEST(ChooseChain, ThePreferredDefaultChainIsKept) {
    const Hierarchy h;
    const std::vector<CertificateChain> chains{h.default_chain(), h.alternate_chain()};
    const ChainChoice choice = choose_chain(chains, "Legacy Root");
    EXPECT_TRUE(choice.preferred);
    EXPECT_EQ(choice.index, 0u);
}

TEST(ChooseChain, MatchesAPartOfTheIssuerDnWhenNoCommonNameEqualsIt) {
    const Hierarchy h;
    const std::vector<CertificateChain> chains{h.default_chain(), h.alternate_chain()};
    const ChainChoice choice = choose_chain(chains, "O=Example Trust");
    EXPECT_TRUE(choice.preferred);
    EXPECT_EQ(choice.index, 1u);
}

TEST(ChooseChain, NoPreferenceMeansTheDefaultChain) {
    const Hierarchy h;
    const ChainChoice choice = choose_chain({h.default_chain(), h.alternate_chain()}, "");
    EXPECT_FALSE(choice.preferred);
    EXPECT_EQ(choice.index, 0u);
}

TEST(ChooseChain, SkipsAnUnreadableChain) {
    const Hierarchy h;
    const std::vector<CertificateChain> chains{h.default_chain(), {"https://x", "garbage"}};
    EXPECT_FALSE(choose_chain(chains, "Root X").preferred);
    EXPECT_FALSE(topmost_issuer("garbage"));
}

} // namespace
} // namespace secure_api::acme
